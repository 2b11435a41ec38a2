"""List bodies at the edge, for every list: a ``Page`` (chalicelib/domain/paging.py) as ``{"items", "next_cursor"}``,
cut short when its JSON would outgrow the response budget (a Lambda answer is at most 6 MB), saying where to go on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.domain.paging import Page, encode_cursor
from chalicelib.domain.rows import Row
from chalicelib.http.views import dumps

# Where a list page stops early (and says where to go on); well below Lambda's 6 MB.
RESPONSE_BUDGET_BYTES = 4 * 1024 * 1024


def _fitting(items: Sequence[Any]) -> int:
    """How many leading items fit in one response; at least one, so paging always moves on."""
    size = 0
    for index, item in enumerate(items):
        size += len(dumps(item))
        if size > RESPONSE_BUDGET_BYTES and index > 0:
            return index
    return len(items)


def page_body(page: Page, view: Callable[[Row], Any]) -> dict[str, Any]:
    """The list body of ``page``: its rows' views, cut to the response budget, and the cursor of the next page."""
    items = [view(row) for row in page.items]
    fit = _fitting(items)
    after = page.keyset.position(page.items[fit - 1]) if fit < len(items) else page.next_after
    return {"items": items[:fit], "next_cursor": encode_cursor(after) if after is not None else None}
