"""Truth table of label matching: case, lists, wildcard, absent optional labels (one definition)."""

from __future__ import annotations

import pytest

from chalicelib.domain.labels import matches, validate_labels

TRUTH_TABLE = [
    # workflow value,            requested,    matches?
    ("production", "production", True),
    ("Production", "PRODUCTION", True),
    (" production ", "production", True),
    ("production", "staging", False),
    (["production", "staging"], "staging", True),
    (["production", "staging"], "STAGING", True),
    (["production", "staging"], "dev", False),
    ("*", "anything", True),
    (["staging", "*"], "anything", True),
    ("production", "*", True),
    (None, "payments", True),  # optional label the workflow does not declare
    ("prod", "production", False),  # no prefix matching
    ("production", "prod*", False),  # "*" is only a whole value, never a glob
]


@pytest.mark.parametrize(("workflow_value", "requested", "expected"), TRUTH_TABLE)
def test_matching_truth_table(workflow_value: object, requested: str, expected: bool) -> None:
    assert matches(workflow_value, requested) is expected  # type: ignore[arg-type]


def test_required_labels_and_shapes() -> None:
    assert validate_labels({"signal_type": "x", "severity": ["a"], "environment": "*", "component": "c"}) == []
    paths = {
        e.path for e in validate_labels({"signal_type": "x", "Bad-Key": "v", "empty": [], "num": 3, "severity": [""]})
    }
    assert paths == {
        "$.labels.environment",
        "$.labels.component",
        "$.labels.Bad-Key",
        "$.labels.empty",
        "$.labels.num",
        "$.labels.severity[0]",
    }
    assert validate_labels("prod")[0].path == "$.labels"
