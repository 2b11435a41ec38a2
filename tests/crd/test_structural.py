"""The structural-schema checker itself: each rule it claims to enforce rejects a schema that breaks it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.structural import structural_errors


def _root(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}


BROKEN = {
    "untyped field": (_root(size={"minimum": 1}), "spec].properties[size].type: must not be empty"),
    "untyped array item": (_root(tags={"type": "array", "items": {"maxLength": 3}}), "items.type: must not be empty"),
    "type inside anyOf": (
        _root(value={"x-kubernetes-preserve-unknown-fields": True, "anyOf": [{"type": "string"}, {"type": "array"}]}),
        "anyOf[0].type: must be empty to be structural",
    ),
    "description inside not": (_root(name={"type": "string", "not": {"description": "x"}}), "not.description"),
    "field only inside a junctor": (
        _root(ref={"type": "object", "properties": {"a": {"type": "string"}}, "anyOf": [{"properties": {"b": {}}}]}),
        "anyOf[0].properties[b]: must also be specified outside",
    ),
    "properties with additionalProperties": (
        _root(labels={"type": "object", "properties": {"a": {"type": "string"}},
                      "additionalProperties": {"type": "string"}}),
        "mutually exclusive",
    ),
    "array without items": (_root(tags={"type": "array"}), "items: must be specified"),
    "patternProperties": (
        _root(m={"type": "object", "patternProperties": {"^a": {"type": "string"}}}), "not supported"
    ),
    "misspelt keyword": (_root(name={"type": "string", "maxlength": 3}), "maxlength: unknown keyword"),
    "uniqueItems": (_root(tags={"type": "array", "items": {"type": "string"}, "uniqueItems": True}), "uniqueItems"),
    "invalid default": (_root(enabled={"type": "boolean", "default": "yes"}), "default: 'yes' is not of type"),
    "map list key not required": (
        _root(conds={"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                     "items": {"type": "object", "properties": {"type": {"type": "string"}}}}),
        "'type' must be required or defaulted",
    ),
    "metadata restricting labels": (
        {"type": "object",
         "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}},
        "metadata may only restrict name and generateName",
    ),
    "preserve-unknown-fields false": (
        _root(x={"type": "object", "x-kubernetes-preserve-unknown-fields": False}), "true or absent"
    ),
    "root not an object": ({"type": "string"}, "must be object at the root"),
    "CEL rule inside anyOf": (
        _root(name={"type": "string", "anyOf": [{"x-kubernetes-validations": [{"rule": "true"}]}]}),
        "anyOf[0].x-kubernetes-validations: must be empty to be structural",
    ),
    "additionalProperties at the root": (
        {"type": "object", "additionalProperties": {"type": "string"}}, "must not be used at the root"
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_rejects(case: str) -> None:
    schema, expected = BROKEN[case]
    errors = structural_errors(schema)
    assert any(expected in error for error in errors), errors


@pytest.mark.parametrize(
    "node",
    [
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        {"x-kubernetes-int-or-string": True, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}]},
        {"x-kubernetes-preserve-unknown-fields": True, "anyOf": [{"not": {"maxLength": 0}}, {"not": {"maxItems": 0}}]},
        {"type": "object", "properties": {"a": {"type": "string"}},
         "anyOf": [{"required": ["a"]}, {"properties": {"a": {"maxLength": 3}}}]},
    ],
    ids=["int-or-string anyOf", "int-or-string allOf", "untyped value with type-specific junctors",
         "junctor over declared field"],
)
def test_accepts_the_allowed_patterns(node: dict[str, Any]) -> None:
    assert structural_errors(_root(field=node)) == []
