"""Keyset paging, for every list of the API: one ``Page`` type, one cursor format, one helper.

A list is read in a total order, its ``Keyset``, declared next to the list's SQL in its store (the
order and the position must agree): the position of a row, and the check of a position a cursor
brings back. A page is at most ``limit`` rows and the position after its last one (``next_after``,
None on the last page); stores fetch ``limit + 1`` rows so ``keyset_page`` knows whether there is a
next page without counting. ``?cursor=`` is that position, opaque to clients (``read_cursor``: 400
for one this list did not issue); the HTTP edge (chalicelib/http/paging.py) answers the page as the
list body ``{"items", "next_cursor"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import FieldError, ValidationFailed
from chalicelib.domain.limits import MAX_CURSOR
from chalicelib.domain.rows import Row


@dataclass(frozen=True)
class Keyset:
    """A list's order: the position of a row in it (JSON: it travels in the cursor) and the check that a position a
    cursor brings back has that shape."""

    position: Callable[[Row], Any]
    valid: Callable[[Any], bool]


@dataclass(frozen=True)
class Page:
    """A page of rows, the keyset position after its last one (None: the last page) and the list's keyset."""

    items: Sequence[Row]
    next_after: Any | None
    keyset: Keyset


def keyset_page(rows: Sequence[Row], limit: int, keyset: Keyset) -> Page:
    """The page of ``rows`` (fetched as ``limit + 1``): at most ``limit`` of them, and the position after it."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, keyset.position(rows[-1]), keyset)
    return Page(rows, None, keyset)


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def read_cursor(raw: str | None, keyset: Keyset) -> Any:
    """The position in ``raw`` (``?cursor=``; None when absent), checked against the list's ``keyset``."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) > MAX_CURSOR:
            raise ValueError
        position = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not keyset.valid(position):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "The cursor is not valid; use next_cursor from a previous page.",
            [FieldError("$.cursor", "not a cursor this endpoint issued")],
        ) from None
    return position


# Shapes keysets' positions take.
def ints(position: Any, count: int, below: Sequence[int]) -> bool:
    """``count`` integers, each from 1 to below the bound of its place."""
    return (isinstance(position, list) and len(position) == count
            and all(type(p) is int and 0 < p < bound for p, bound in zip(position, below, strict=True)))


def is_timestamp(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
