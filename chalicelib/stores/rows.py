"""The shape of a result row, shared by the stores and the services that read them.

Every cursor is a psycopg2 ``RealDictCursor``: a row is a dict of column name to value. Stores hand
rows out as read-only ``Mapping`` and lists of rows as ``Sequence`` (psycopg2 types them as
``RealDictRow`` / ``list[RealDictRow]``, which an invariant ``list[dict[...]]`` would not accept).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg2.extras import RealDictCursor

Row = Mapping[str, Any]


def fetch_one(cur: RealDictCursor) -> Row:
    """The row a statement always returns (an aggregate, or RETURNING of a row the caller holds)."""
    row = cur.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row
