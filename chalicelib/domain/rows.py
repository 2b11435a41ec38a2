"""The shape of a result row, shared by the stores, the services and the views at the edge (the one ``Row``).

Rows are psycopg2 ``RealDictRow``s: a dict of column name to value. Stores hand them out as read-only
``Mapping`` and lists of rows as ``Sequence`` (psycopg2 types them as ``RealDictRow`` /
``list[RealDictRow]``, which an invariant ``list[dict[...]]`` would not accept).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Row = Mapping[str, Any]
