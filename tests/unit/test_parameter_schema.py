"""The parameter-schema rules of docs/playbook-schema.md, each with the JSON path of the rule that broke."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.domain.parameter_schema import validate_parameter_schema, validate_parameters

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "workflows").glob("*.json"))


def prop(**extra: object) -> dict[str, object]:
    return {"type": "string", "description": "d", **extra}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_are_valid(path: Path) -> None:
    assert validate_parameter_schema(json.loads(path.read_text())["parameters"]) == []


BAD = [
    ({"type": "array"}, "$.parameters.type"),
    ({"type": "object", "additionalProperties": True}, "$.parameters.additionalProperties"),
    ({"type": "object", "properties": {"lower": prop()}}, "$.parameters.properties.lower"),
    ({"type": "object", "properties": {"A": {"type": "object", "description": "d"}}}, "$.parameters.properties.A.type"),
    ({"type": "object", "properties": {"A": {"type": "string"}}}, "$.parameters.properties.A.description"),
    ({"type": "object", "properties": {"A": prop(default=5)}}, "$.parameters.properties.A.default"),
    (
        {"type": "object", "properties": {"A": prop(pattern="^[a-z]+$", default="ABC")}},
        "$.parameters.properties.A.default",
    ),
    ({"type": "object", "properties": {"A": prop(**{"$ref": "http://x/y"})}}, "$.parameters.properties.A.$ref"),
    ({"type": "object", "required": ["B"], "properties": {"A": prop()}}, "$.parameters.required[0]"),
    (
        {"type": "object", "dependentRequired": {"A": ["B"]}, "properties": {"A": prop()}},
        "$.parameters.dependentRequired.A",
    ),
    ({"type": "object", "properties": {"A": {"type": "strin", "description": "d"}}}, "$.parameters.properties.A.type"),
    ({"type": "object", "properties": {f"P{i}": prop() for i in range(101)}}, "$.parameters.properties"),
    ({"type": "object", "if": {}}, "$.parameters.if"),
    ("not a schema", "$.parameters"),
]


@pytest.mark.parametrize(("schema", "path"), BAD)
def test_each_rule_reports_its_path(schema: object, path: str) -> None:
    errors = validate_parameter_schema(schema)
    assert path in {e.path for e in errors}, errors


def test_enum_property_without_type_is_allowed() -> None:
    schema = {"type": "object", "properties": {"MODE": {"enum": ["a", "b"], "description": "d"}}}
    assert validate_parameter_schema(schema) == []


SCHEMA = {
    "type": "object",
    "properties": {
        "NAME": prop(pattern="^[a-z]+$"),
        "COUNT": {"type": "integer", "description": "d", "minimum": 1, "default": 2},
        "TOKEN": prop(writeOnly=True, minLength=8),
        "CHANNEL": prop(),
    },
    "required": ["NAME"],
    "dependentRequired": {"CHANNEL": ["TOKEN"]},
}


def test_values_with_defaults_and_every_error() -> None:
    errors, values = validate_parameters(SCHEMA, {"NAME": "abc"})
    assert errors == [] and values == {"NAME": "abc", "COUNT": 2}
    errors, _ = validate_parameters(SCHEMA, {"COUNT": 0, "EXTRA": 1, "CHANNEL": "c"})
    assert sorted((e.path, e.message) for e in errors) == [
        ("$.parameters.COUNT", "must satisfy minimum 1"),
        ("$.parameters.EXTRA", "'EXTRA' is not a declared parameter"),
        ("$.parameters.NAME", "is required"),
        ("$.parameters.TOKEN", "is required when CHANNEL is set"),
    ]


def test_error_messages_never_echo_values() -> None:
    secret = "hunter2-is-not-8"
    errors, _ = validate_parameters(SCHEMA, {"NAME": "abc", "TOKEN": secret[:5], "COUNT": secret})
    assert errors
    assert all(secret[:5] not in e.message and secret not in e.message for e in errors)
