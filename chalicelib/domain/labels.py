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

import re
from collections.abc import Mapping

from chalicelib.domain.errors import FieldError

REQUIRED_LABELS = ("signal_type", "severity", "environment", "component")
WILDCARD = "*"
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_LABELS = 32
MAX_VALUES = 32
MAX_VALUE_LENGTH = 128

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


def validate_labels(labels: object, path: str = "$.labels", required: bool = True) -> list[FieldError]:
    """Checks the shape of a labels object; returns every problem found."""
    if not isinstance(labels, Mapping):
        return [FieldError(path, "must be an object of label -> string or list of strings")]
    errors: list[FieldError] = []
    if len(labels) > MAX_LABELS:
        errors.append(FieldError(path, f"at most {MAX_LABELS} labels"))
    if required:
        for key in REQUIRED_LABELS:
            if key not in labels:
                errors.append(FieldError(f"{path}.{key}", 'is required (use "*" for any)'))
    for key, value in labels.items():
        where = f"{path}.{key}"
        if not isinstance(key, str) or not LABEL_KEY.match(key):
            errors.append(FieldError(where, "label keys are lower_snake_case, at most 63 characters"))
            continue
        errors.extend(_validate_value(value, where))
    return errors


def _validate_value(value: object, where: str) -> list[FieldError]:
    if isinstance(value, str):
        items: list[object] = [value]
    elif isinstance(value, list):
        if not value:
            return [FieldError(where, "a list of values must not be empty")]
        if len(value) > MAX_VALUES:
            return [FieldError(where, f"at most {MAX_VALUES} values")]
        items = value
    else:
        return [FieldError(where, "must be a string or a list of strings")]
    errors = []
    for index, item in enumerate(items):
        item_path = where if isinstance(value, str) else f"{where}[{index}]"
        if not isinstance(item, str):
            errors.append(FieldError(item_path, "must be a string"))
        elif not item.strip():
            errors.append(FieldError(item_path, "must not be empty"))
        elif len(item) > MAX_VALUE_LENGTH:
            errors.append(FieldError(item_path, f"at most {MAX_VALUE_LENGTH} characters"))
    return errors


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
