"""Paging at the edge, for every list: opaque cursors and pages that fit a Lambda response.

Services return a ``Page`` (chalicelib/domain/paging.py): rows and the keyset position after them
(``next_after``). This module turns a ``?cursor=`` back into a position (checked against the list's
``Keyset``), and a page into the list body ``{"items", "next_cursor"}``, cut short when its JSON would
outgrow the response budget (a Lambda answer is at most 6 MB), saying where to go on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib.domain.errors import FieldError, ValidationFailed
from chalicelib.domain.limits import MAX_CURSOR
from chalicelib.domain.paging import Keyset, Page
from chalicelib.domain.rows import Row
from chalicelib.http.views import dumps

# Where a list page stops early (and says where to go on); well below Lambda's 6 MB.
RESPONSE_BUDGET_BYTES = 4 * 1024 * 1024


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def cursor_position(query: Mapping[str, Any], keyset: Keyset) -> Any:
    """The position in the query's ``cursor`` (None when absent), checked against ``keyset``: 400 otherwise."""
    raw = query.get("cursor")
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


def _fitting(items: Sequence[Any]) -> int:
    """How many leading items fit in one response; at least one, so paging always moves on."""
    size = 0
    for index, item in enumerate(items):
        size += len(dumps(item))
        if size > RESPONSE_BUDGET_BYTES and index > 0:
            return index
    return len(items)


def page_body(page: Page, view: Callable[[Row], Any], keyset: Keyset) -> dict[str, Any]:
    """The list body ``{"items", "next_cursor"}`` of ``page``: its rows' views, cut to the response budget."""
    items = [view(row) for row in page.items]
    fit = _fitting(items)
    after = keyset.position(page.items[fit - 1]) if fit < len(items) else page.next_after
    return {"items": items[:fit], "next_cursor": encode_cursor(after) if after is not None else None}
