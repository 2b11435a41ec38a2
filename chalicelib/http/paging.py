"""Paging at the edge, for every list: opaque cursors and pages that fit a Lambda response.

Services return a page of rows and the keyset position after it (``next_after``); this module
turns positions into opaque cursors and back, and cuts a page short when its JSON would outgrow
the response budget (a Lambda answer is at most 6 MB), saying where to go on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib.domain.errors import FieldError, ValidationFailed
from chalicelib.domain.limits import MAX_CURSOR
from chalicelib.http.views import dumps

# Where a list page stops early (and says where to go on); well below Lambda's 6 MB.
RESPONSE_BUDGET_BYTES = 4 * 1024 * 1024

Row = Mapping[str, Any]


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(raw: str | None, check: Callable[[Any], bool]) -> Any:
    """The position in ``raw`` (``?cursor=``), None when absent; ``check`` validates its shape."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) > MAX_CURSOR:
            raise ValueError
        position = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not check(position):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "The cursor is not valid; use next_cursor from a previous page.",
            [FieldError("$.cursor", "not a cursor this endpoint issued")],
        ) from None
    return position


def fitting(items: Sequence[Any]) -> int:
    """How many leading items fit in one response; at least one, so paging always moves on."""
    size = 0
    for index, item in enumerate(items):
        size += len(dumps(item))
        if size > RESPONSE_BUDGET_BYTES and index > 0:
            return index
    return len(items)


def page(rows: Sequence[Row], view: Callable[[Row], Any], position: Callable[[Row], Any], next_after: Any
         ) -> tuple[list[Any], str | None]:
    """(items, next_cursor) for a page of ``rows``: their views, cut to the response budget."""
    items = [view(row) for row in rows]
    fit = fitting(items)
    after = position(rows[fit - 1]) if fit < len(items) else next_after
    return items[:fit], encode_cursor(after) if after is not None else None
