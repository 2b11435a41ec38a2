"""`pattern` means ECMA-262, as JSON Schema says: the answers of an ECMA-262 engine, and the validator agreeing.

Each case is (pattern, text, what ECMA-262 answers for RegExp(pattern, "u").test(text)); Python's `re` gives
another answer for the ones marked so, which is why the catalog does not use it for JSON Schema.
"""

from __future__ import annotations

import pytest

from chalicelib.domain import limits
from chalicelib.domain.parameter_schema import validate_parameter_schema, validate_parameters
from chalicelib.domain.patterns import ecma_validator, is_pattern, search
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.workflows import is_workflow_id

ECMA_ANSWERS = [
    # anchors: $ is the end of the input, never "before a final newline" (Python: True)
    ("^[0-9]+Mi$", "512Mi\n", False),
    ("^[0-9]+(Mi|Gi)$", "512Mi", True),
    ("^a$", "a\n", False),
    ("^a$", "\na", False),
    ("a$", "ba", True),
    ("^abc", "xabc", False),
    ("abc", "xabcx", True),  # not anchored: found anywhere
    # \d, \w are ASCII (Python: True for other scripts' digits and letters)
    ("^\\d+$", "123", True),
    ("^\\d+$", "\u0661\u0662\u0663", False),
    ("^\\w+$", "caf\u00e9", False),
    # Unicode mode: property escapes, a code point is one character
    ("^\\p{L}+$", "\u00e9cole", True),
    ("^.$", "\U0001F600", True),
    ("^[^a]$", "\U0001F600", True),
    # \s is ECMA-262's white space (Python disagrees on U+FEFF and U+001E)
    ("\\S", "\ufeff", False),
    ("\\S", "\x1e", True),
    ("^\\s$", "\u00a0", True),
    (".", "\n", False),
]


@pytest.mark.parametrize(("pattern", "text", "answer"), ECMA_ANSWERS)
def test_patterns_answer_as_ecma_262_and_the_validator_agrees(pattern: str, text: str, answer: bool) -> None:
    assert search(pattern, text) is answer
    assert ecma_validator()({"type": "string", "pattern": pattern}).is_valid(text) is answer


def test_property_names_matched_by_pattern_properties_follow_ecma_262_too() -> None:
    schema = {"type": "object", "patternProperties": {"^label\\.[a-z]+$": {"type": "string"}},
              "additionalProperties": False}
    validator = ecma_validator()(schema)
    assert validator.is_valid({"label.team": "a"})
    assert not validator.is_valid({"label.team\n": "a"})  # Python's re would call it covered


def test_only_ecma_262_expressions_are_patterns() -> None:
    assert not is_pattern("(?P<name>a)")  # Python-only syntax
    assert not is_pattern("[")
    assert is_pattern("\\_")  # legacy (non-Unicode) ECMA-262 syntax, read that way
    errors = validate_parameter_schema({"type": "object", "properties": {
        "NAME": {"type": "string", "description": "d", "pattern": "^(?P<x>a)$"}}})
    assert errors and "regex" in errors[0].message


def test_pattern_checked_parameter_values_and_names_refuse_a_trailing_newline() -> None:
    schema = {"type": "object", "properties": {
        "MEMORY_LIMIT": {"type": "string", "description": "d", "pattern": "^[0-9]+(Mi|Gi)$"}}}
    assert validate_parameters(schema, {"MEMORY_LIMIT": "512Mi"})[0] == []
    errors, _ = validate_parameters(schema, {"MEMORY_LIMIT": "512Mi\n"})
    assert [e.path for e in errors] == ["$.parameters.MEMORY_LIMIT"]
    named = validate_parameter_schema({"type": "object", "properties": {
        "NAME\n": {"type": "string", "description": "d"}}})
    assert named and "environment variable" in named[0].message


@pytest.mark.parametrize("text", ["payments\n", "payments\r", "pay\tments", "payments\x1e", "payments\u2028", ""])
def test_identifiers_never_hold_control_characters(text: str) -> None:
    assert not is_workflow_id(text)
    assert not search(limits.TARGET_NAMESPACE_PATTERN, text)
    assert not search(limits.TARGET_NAME_PATTERN, text)
    assert not search(limits.LABEL_VALUE_PATTERN, text) or text.strip() == text == ""


@pytest.mark.parametrize(("text", "valid"), [
    ("INC-1042", True), ("payments team", True), ("\u00e9quipe", True), (" x ", True),
    ("", False), ("   ", False), ("\u3000", False), ("a\nb", False), ("a\tb", False), ("a\x7f", False),
    ("a\x85", False), ("a\u2028", False), ("ab\n", False),
])
def test_identifier_text_is_printable_and_not_blank(text: str, valid: bool) -> None:
    assert search(limits.IDENTIFIER_TEXT, text) is valid


@pytest.mark.parametrize(("name", "valid"), [
    ("payments-api", True), ("a.b.c", True), ("a" * 253, True), ("a..b", False), ("a.-b", False), ("-a", False),
    ("a.", False), ("A", False),
])
def test_target_names_are_dns_1123_subdomains(name: str, valid: bool) -> None:
    assert search(limits.TARGET_NAME_PATTERN, name) is valid


@pytest.mark.parametrize(("kind", "valid"), [
    ("Deployment", True), ("StatefulSet", True), ("Node", True), ("deployment", False), ("1Pod", False),
    ("Deploy-ment", False), ("D" * 63, True), ("D" * 64, False), ("Deployment\n", False),
])
def test_target_kinds_are_upper_camel_case(kind: str, valid: bool) -> None:
    assert search(limits.TARGET_KIND_PATTERN, kind) is valid


@pytest.mark.parametrize("version", [
    "0.0.0", "1.2.3", "v1.2.3", "2147483647.2147483647.2147483647", "1.0.0-alpha.1", "1.0.0-0",
    "1.0.0-" + "9" * 20, "1.0.0-" + "9" * 21 + "a", "1.0.0+build.007", "2147483648.0.0", "9999999999.0.0",
    "1.0.0-" + "1" * 21, "1.0.0-01", "01.0.0", "1.0", "1.0.0-", "1.0.0+",
])
def test_the_semver_pattern_admits_exactly_what_the_catalog_stores(version: str) -> None:
    try:
        normalize_version(version)
        stored = True
    except ValueError:
        stored = False
    assert search(limits.SEMVER_PATTERN, version) is stored
    assert not search(limits.SEMVER_PATTERN, f"{version}\n")


def test_the_crd_checks_versions_with_the_same_pattern() -> None:
    from chalicelib.adapters.crd import resource_contract

    spec = resource_contract().schema["properties"]["spec"]["properties"]
    assert spec["version"]["pattern"] == limits.SEMVER_PATTERN
    assert spec["workflowId"]["pattern"] == limits.WORKFLOW_ID_PATTERN


def test_a_value_over_its_max_length_never_meets_the_expression() -> None:
    """Refused by maxLength already: a pattern with nested repetition is not run on a megabyte of text."""
    schema = {"type": "string", "maxLength": 10, "pattern": "^(a+)+$"}
    errors = list(ecma_validator()(schema).iter_errors("a" * 1_000_000 + "!"))
    assert [error.validator for error in errors] == ["maxLength"]
    assert [error.validator for error in ecma_validator()(schema).iter_errors("aa!")] == ["pattern"]
