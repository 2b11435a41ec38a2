"""What JSON can carry but PostgreSQL (text, jsonb) and environment variables cannot: NUL characters,
unpaired surrogates, NaN and infinities. One definition, used at the HTTP edge for every body and by
the rules that accept values from elsewhere (parameters, incident context)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from chalicelib.domain.errors import FieldError
from chalicelib.domain.limits import MAX_INCIDENT_BYTES, MAX_INCIDENT_DEPTH

UNSTORABLE = "must be a finite number, or text without NUL characters or unpaired surrogates"


def unrepresentable(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


def first_unstorable(node: Any, where: str, max_depth: int | None = None, depth: int = 0) -> FieldError | None:
    """The first value (or key) under ``node`` that cannot be stored, or nesting beyond ``max_depth``."""
    if max_depth is not None and depth > max_depth:
        return FieldError(where, f"nests deeper than {max_depth} levels")
    if isinstance(node, Mapping):
        for key, value in node.items():
            if unrepresentable(key):
                return FieldError(where, "keys must not contain NUL characters or unpaired surrogates")
            found = first_unstorable(value, f"{where}.{str(key)[:64]}", max_depth, depth + 1)
            if found:
                return found
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found = first_unstorable(item, f"{where}[{index}]", max_depth, depth + 1)
            if found:
                return found
    elif unrepresentable(node):
        return FieldError(where, UNSTORABLE)
    return None


def incident_error(incident: Mapping[str, Any]) -> FieldError | None:
    """What makes an incident (executions, recommendations) unstorable: a value, its depth or its size."""
    bad = first_unstorable(incident, "$.incident", MAX_INCIDENT_DEPTH)
    if bad is None and len(json.dumps(incident, separators=(",", ":"))) > MAX_INCIDENT_BYTES:
        bad = FieldError("$.incident", f"must be at most {MAX_INCIDENT_BYTES} bytes as JSON")
    return bad
