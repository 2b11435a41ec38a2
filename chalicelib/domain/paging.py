"""Keyset paging, for every list of the API: one ``Page`` type, one helper, and each list's order.

A list is read in a total order; a page is ``limit`` rows and the position of its last row
(``next_after``, None on the last page). The next page starts after that position. Stores fetch
``limit + 1`` rows so that ``keyset_page`` knows whether there is a next page without counting.
The HTTP edge (chalicelib/http/paging.py) turns positions into opaque cursors (``?cursor=``,
``next_cursor``) and back, checking a returned position with its list's ``Keyset.valid``.

Every list's keyset is declared here, so a new list adds one ``Keyset`` (and its store query):
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.rows import Row


@dataclass(frozen=True)
class Page:
    """A page of rows and the keyset position after its last one (None: the last page)."""

    items: Sequence[Row]
    next_after: Any | None


@dataclass(frozen=True)
class Keyset:
    """A list's order: the position of a row in it (JSON: it travels in the cursor) and the check that a position a
    cursor brings back has that shape (else the cursor is refused with 400)."""

    position: Callable[[Row], Any]
    valid: Callable[[Any], bool]


def keyset_page(rows: Sequence[Row], limit: int, keyset: Keyset) -> Page:
    """The page of ``rows`` (fetched as ``limit + 1``): at most ``limit`` of them, and the position after it."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, keyset.position(rows[-1]))
    return Page(rows, None)


def _is_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _ints(position: Any, count: int) -> bool:
    return isinstance(position, list) and len(position) == count and all(type(p) is int for p in position)


# Workflows (their latest versions), by workflow id.
WORKFLOWS = Keyset(lambda row: row["workflow_id"], lambda p: isinstance(p, str))
# A workflow's versions, newest SemVer first: precedence, then id.
VERSIONS = Keyset(
    lambda row: [row["major"], row["minor"], row["patch"], row["prerelease_key"], row["build"], row["id"]],
    lambda p: (isinstance(p, list) and len(p) == 6 and all(isinstance(x, int) for x in (p[0], p[1], p[2], p[5]))
               and isinstance(p[3], str) and isinstance(p[4], str)),
)
# Executions, newest first: by id, descending.
EXECUTIONS = Keyset(lambda row: [row["id"]], lambda p: _ints(p, 1) and 0 < p[0] < 2**63)
# Recommendations, most occurrences first, then id.
RECOMMENDATIONS = Keyset(lambda row: [row["occurrences"], row["id"]],
                         lambda p: _ints(p, 2) and 0 < p[0] < 2**31 and 0 < p[1] < 2**63)
# API keys, oldest first: created_at (to the microsecond), then key id.
API_KEYS = Keyset(lambda row: [row["created_at"].isoformat(), row["key_id"]],
                  lambda p: (isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
                             and _is_timestamp(p[0])))
