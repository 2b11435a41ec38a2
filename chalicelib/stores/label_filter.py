"""SQL form of the label-matching rule in chalicelib/domain/labels.py, used by list and search.

A workflow satisfies ``key=value`` when it does not declare ``key`` (optional labels only: required
ones are always declared), or one of its values is ``value`` or ``*`` (case-insensitive, trimmed).
``label_tokens`` is a generated, GIN-indexed column of lower-cased ``key=value`` strings.
Keys and values are always bound as parameters, never formatted into the SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.domain.labels import WILDCARD, canonical


def label_filter_sql(filters: Mapping[str, str], alias: str = "v") -> tuple[str, list[str]]:
    """Returns (SQL condition, parameters) for ANDed label filters; ``TRUE`` when there are none."""
    clauses: list[str] = []
    params: list[str] = []
    for key, requested in sorted(filters.items()):
        wanted = canonical(requested)
        if wanted == WILDCARD:
            continue
        clauses.append(f"(NOT ({alias}.labels ? %s) OR {alias}.label_tokens && ARRAY[%s, %s]::text[])")
        params.extend([key, f"{key}={wanted}", f"{key}={WILDCARD}"])
    return (" AND ".join(clauses) or "TRUE"), params
