"""Workflow labels and the one definition of how a request label matches a workflow label.

Rules (tested as a truth table in tests/unit/test_labels.py):
- comparison is case-insensitive and ignores surrounding whitespace;
- a workflow value is a string or a list of strings; it matches a requested value when it
  equals it, contains it (list), or is the wildcard ``"*"`` (alone or inside the list);
- a requested value of ``"*"`` matches any workflow value (the caller has no constraint);
- a label the request names but the workflow does not declare: required labels cannot be
  absent; an optional label the workflow does not declare does not exclude it.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.domain.contracts import label_errors
from chalicelib.domain.errors import FieldError

WILDCARD = "*"

LabelValue = str | list[str]


def canonical(value: str) -> str:
    return value.strip().lower()


def values_of(value: LabelValue) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def matches(workflow_value: LabelValue | None, requested: str) -> bool:
    """Does a workflow whose label has ``workflow_value`` satisfy a request for ``requested``?"""
    wanted = canonical(requested)
    if wanted == WILDCARD or workflow_value is None:
        return True
    have = {canonical(v) for v in values_of(workflow_value)}
    return WILDCARD in have or wanted in have


def excluded(workflow_labels: Mapping[str, LabelValue], requested: list[tuple[str, str, str]]) -> list[FieldError]:
    """The requested labels a workflow does not satisfy, by ``matches``: one FieldError per (path, key, value)
    that excludes it, saying what the workflow declares. An empty list means the workflow applies."""
    return [
        FieldError(path, f"is {value!r}; the workflow's {key} is {_shown(workflow_labels[key])}")
        for path, key, value in requested
        if not matches(workflow_labels.get(key), value)
    ]


def _shown(value: LabelValue) -> str:
    return repr(value) if isinstance(value, str) else "one of " + ", ".join(repr(v) for v in value)


def validate_labels(labels: object, path: str = "$.labels", required: bool = True) -> list[FieldError]:
    """Every problem with a labels object, by the one labels contract (required labels or business context)."""
    return label_errors(labels, path, required)


def normalize_labels(labels: Mapping[str, LabelValue]) -> dict[str, LabelValue]:
    """Trims values and removes duplicate list entries (first spelling wins); keeps case for display."""
    result: dict[str, LabelValue] = {}
    for key, value in labels.items():
        if isinstance(value, str):
            result[key] = value.strip()
        else:
            seen: set[str] = set()
            kept = []
            for item in value:
                if canonical(item) not in seen:
                    seen.add(canonical(item))
                    kept.append(item.strip())
            result[key] = kept
    return result
