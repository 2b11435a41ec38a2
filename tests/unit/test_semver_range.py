"""npm-style SemVer ranges (chalicelib/domain/semver_range.py) against npm's semantics.

Two sources: the desugarings npm documents for each kind of range (a table, below), and answers
recorded from npm's own ``semver`` package for thousands of generated ranges and versions,
malformed ranges included (tests/unit/data/npm-semver-cases.json, devtools/npm_semver_cases.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.domain.semver_range import parse_range, parse_version

RECORDED = json.loads((Path(__file__).parent / "data" / "npm-semver-cases.json").read_text())

# range -> its desugared comparator sets, as npm documents them ("*" is any release).
DESUGARED = {
    "1.2.3": "1.2.3",
    "=1.2.3": "1.2.3",
    "v1.2.3": "1.2.3",
    "*": "*",
    "": "*",
    "x": "*",
    "1.x": ">=1.0.0 <2.0.0-0",
    "1": ">=1.0.0 <2.0.0-0",
    "1.2.x": ">=1.2.0 <1.3.0-0",
    "1.2": ">=1.2.0 <1.3.0-0",
    "1.2.*": ">=1.2.0 <1.3.0-0",
    ">1": ">=2.0.0",
    ">1.2": ">=1.3.0",
    ">=1.2": ">=1.2.0",
    "<1.2": "<1.2.0-0",
    "<=1.2": "<1.3.0-0",
    "<=1": "<2.0.0-0",
    ">x": "<0.0.0-0",
    "~1.2.3": ">=1.2.3 <1.3.0-0",
    "~>1.2.3": ">=1.2.3 <1.3.0-0",
    "~1.2": ">=1.2.0 <1.3.0-0",
    "~1": ">=1.0.0 <2.0.0-0",
    "~0.2.3": ">=0.2.3 <0.3.0-0",
    "~0": "<1.0.0-0",
    "~1.2.3-beta.2": ">=1.2.3-beta.2 <1.3.0-0",
    "^1.2.3": ">=1.2.3 <2.0.0-0",
    "^0.2.3": ">=0.2.3 <0.3.0-0",
    "^0.0.3": ">=0.0.3 <0.0.4-0",
    "^1.2.3-beta.2": ">=1.2.3-beta.2 <2.0.0-0",
    "^0.0.3-beta": ">=0.0.3-beta <0.0.4-0",
    "^1.2.x": ">=1.2.0 <2.0.0-0",
    "^0.0.x": "<0.1.0-0",
    "^0.0": "<0.1.0-0",
    "^1.x": ">=1.0.0 <2.0.0-0",
    "^0.x": "<1.0.0-0",
    "1.2.3 - 2.3.4": ">=1.2.3 <=2.3.4",
    "1.2 - 2.3.4": ">=1.2.0 <=2.3.4",
    "1.2.3 - 2.3": ">=1.2.3 <2.4.0-0",
    "1.2.3 - 2": ">=1.2.3 <3.0.0-0",
    ">= 1.2.3 < 2": ">=1.2.3 <2.0.0-0",
    "^1.2.3+build.5": ">=1.2.3 <2.0.0-0",
    "1.2.7 || >=1.2.9 <2.0.0": "1.2.7 || >=1.2.9 <2.0.0",
    "* || ^1.0.0-beta": "*",
}


@pytest.mark.parametrize("text", sorted(DESUGARED))
def test_each_kind_of_range_desugars_as_npm_documents(text: str) -> None:
    assert str(parse_range(text)) == DESUGARED[text]


# (range, version, satisfied): npm's documented examples, pre-release rules first.
SATISFIES = [
    (">1.2.3-alpha.3", "1.2.3-alpha.7", True),
    (">1.2.3-alpha.3", "3.4.5-alpha.9", False),  # a pre-release of another [major, minor, patch]
    (">1.2.3-alpha.3", "3.4.5", True),
    ("^1.2.3-alpha", "1.2.3-beta", True),
    ("^1.2.3-alpha", "1.2.4-beta", False),
    ("^1.2.3", "1.2.4-beta", False),
    ("*", "1.0.0-rc.1", False),
    ("1.2.3-rc.1", "1.2.3-rc.1+build.9", True),  # build metadata never counts
    ("1.x", "1.9.9", True),
    ("1.x", "2.0.0", False),
    ("^1.2.0", "1.10.0", True),  # numbers compare as numbers, not text
    ("^1.2.0", "2.0.0", False),  # a newer major is never in a caret range
    ("~1.2.0", "1.3.0", False),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.0.3", "0.0.4", False),
    ("1.2.3 - 2.3", "2.3.9", True),
    ("1.2.3 - 2.3", "2.4.0", False),
    ("<1.0.0", "1.0.0-rc.1", False),  # no pre-release comparator: the pre-release is not admitted
    ("<1.0.0-rc.2", "1.0.0-rc.1", True),
    ("1.0.0 || ^2.1.0", "2.5.0", True),
    ("1.0.0 || ^2.1.0", "1.5.0", False),
]


@pytest.mark.parametrize(("text", "version", "satisfied"), SATISFIES)
def test_documented_examples(text: str, version: str, satisfied: bool) -> None:
    assert parse_range(text).satisfied_by(version) is satisfied


@pytest.mark.parametrize("text", ["x.3", "1.x.3", ">=x.1", "1.2.3 -2", "latest", "1.2.3a", "01.2.3", "1.2.3-01",
                                  "~", ">", "1.2.3.4", "^1.2.3 - 2", ">=1.2.3 <", "1.2.3 - ", "x" * 257])
def test_malformed_ranges_are_refused_with_the_part_named(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_range(text)
    assert str(raised.value)


def test_every_recorded_npm_answer() -> None:
    """Valid or not, and satisfied or not, exactly as npm's semver package answered."""
    disagreements = []
    for text, version, npm_answer in RECORDED["cases"]:
        try:
            ours = parse_range(text).satisfied_by(version)
        except ValueError:
            ours = None
        if ours != npm_answer:
            disagreements.append((text, version, npm_answer, ours))
    assert len(RECORDED["cases"]) >= 3000
    assert disagreements == []


def test_highest_picks_by_precedence_not_by_text_or_order() -> None:
    versions = ["1.9.0", "1.10.0", "2.0.0", "1.10.0-rc.1", "0.9.0"]
    assert parse_range("^1.2.0").highest(versions) == "1.10.0"
    assert parse_range("^1.10.0-rc.1").highest(["1.10.0-rc.1"]) == "1.10.0-rc.1"
    assert parse_range(">=3").highest(versions) is None


def test_version_precedence_follows_semver() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0"]
    keys = [parse_version(v).key for v in ordered]
    assert keys == sorted(keys)
