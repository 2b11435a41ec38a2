"""The apiextensions.k8s.io/v1 rules a CRD's openAPIV3Schema must follow, checked in Python.

Hand-written because these rules live only in the API server's Go code
(k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation and .../apiserver/schema) and no
kube-apiserver can run here. It covers the rules a hand-edited schema realistically breaks:
- "structural": every specified field, additionalProperties schema and array item has a type,
  except under x-kubernetes-int-or-string or x-kubernetes-preserve-unknown-fields;
- nothing inside allOf/anyOf/oneOf/not sets type, description, default, additionalProperties,
  nullable, externalDocs or a x-kubernetes-* extension (CEL rules included) (only the int-or-string anyOf pattern may), and a field
  or item named inside a junctor is also specified outside it;
- metadata may only restrict name and generateName;
- properties and additionalProperties are mutually exclusive; arrays have one items schema;
  keywords Kubernetes rejects ($ref, patternProperties, uniqueItems, ...) are absent;
- list-type/map-keys are consistent; defaults are valid against their own schema.
"""

from __future__ import annotations

from typing import Any

import jsonschema

JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
# Fields of JSONSchemaProps that a CRD schema may use; anything else is a typo the API server drops.
KNOWN = {
    "type", "format", "title", "description", "default", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf",
    "anyOf", "not", "properties", "additionalProperties", "nullable", "example", "externalDocs",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-validations",
}
FORBIDDEN = {"$ref", "$schema", "id", "definitions", "dependencies", "additionalItems", "patternProperties"}
FORBIDDEN_IN_JUNCTORS = {
    "type", "description", "default", "additionalProperties", "nullable", "title", "externalDocs",
    "x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def structural_errors(schema: dict[str, Any]) -> list[str]:
    """Every rule ``schema`` (a CRD version's openAPIV3Schema) breaks, as ``path: problem`` lines."""
    errors: list[str] = []
    if schema.get("type") != "object":
        errors.append("openAPIV3Schema.type: must be object at the root")
    if "additionalProperties" in schema:
        errors.append("openAPIV3Schema.additionalProperties: must not be used at the root")
    for name in ("apiVersion", "kind"):
        if name in schema.get("properties", {}) and schema["properties"][name].get("type") != "string":
            errors.append(f"openAPIV3Schema.properties[{name}].type: must be string")
    _node(schema, "openAPIV3Schema", errors, root=True)
    metadata = schema.get("properties", {}).get("metadata")
    if metadata is not None:
        _metadata(metadata, errors)
    return errors


def _node(node: dict[str, Any], path: str, errors: list[str], root: bool = False) -> None:
    """Checks one specified node (root, property, additionalProperties or items) and recurses."""
    _keywords(node, path, errors)
    untyped_allowed = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    if "type" not in node and not untyped_allowed:
        errors.append(f"{path}.type: must not be empty for a specified {'root' if root else 'field or item'}")
    elif "type" in node and node["type"] not in TYPES:
        errors.append(f"{path}.type: unknown type {node['type']!r}")
    if node.get("x-kubernetes-int-or-string") and "type" in node:
        errors.append(f"{path}.type: must be empty with x-kubernetes-int-or-string")
    if node.get("x-kubernetes-preserve-unknown-fields") is False:
        errors.append(f"{path}.x-kubernetes-preserve-unknown-fields: must be true or absent")
    if "properties" in node and "additionalProperties" in node:
        errors.append(f"{path}: properties and additionalProperties are mutually exclusive")
    if isinstance(node.get("additionalProperties"), bool):
        errors.append(f"{path}.additionalProperties: must be a schema (use x-kubernetes-preserve-unknown-fields)")
    if node.get("type") == "array" and "items" not in node:
        errors.append(f"{path}.items: must be specified for an array")
    if isinstance(node.get("items"), list):
        errors.append(f"{path}.items: must be a single schema, not a list")
    _list_type(node, path, errors)
    _default(node, path, errors)
    for name, child in node.get("properties", {}).items():
        _node(child, f"{path}.properties[{name}]", errors)
    if isinstance(node.get("additionalProperties"), dict):
        _node(node["additionalProperties"], f"{path}.additionalProperties", errors)
    if isinstance(node.get("items"), dict):
        _node(node["items"], f"{path}.items", errors)
    for junctor in JUNCTORS:
        for index, branch in enumerate(_branches(node, junctor)):
            where = f"{path}.{junctor}" + ("" if junctor == "not" else f"[{index}]")
            if not _int_or_string_pattern(node, junctor, branch):
                _junction(branch, node, where, errors)


def _keywords(node: dict[str, Any], path: str, errors: list[str]) -> None:
    for key in node:
        if key in FORBIDDEN:
            errors.append(f"{path}.{key}: not supported in a CRD schema")
        elif key not in KNOWN:
            errors.append(f"{path}.{key}: unknown keyword (the API server would drop it)")
    if node.get("uniqueItems") is True:
        errors.append(f"{path}.uniqueItems: cannot be true (use x-kubernetes-list-type: set)")


def _junction(branch: dict[str, Any], outer: dict[str, Any], path: str, errors: list[str]) -> None:
    """A branch of allOf/anyOf/oneOf/not: value validations only, over fields the outer schema declares."""
    _keywords(branch, path, errors)
    for key in sorted(FORBIDDEN_IN_JUNCTORS & set(branch)):
        errors.append(f"{path}.{key}: must be empty to be structural")
    for name, child in branch.get("properties", {}).items():
        if name == "metadata":
            errors.append(f"{path}.properties[metadata]: must not be specified in a nested context")
            continue
        declared = outer.get("properties", {}).get(name)
        if declared is None:
            errors.append(f"{path}.properties[{name}]: must also be specified outside the junctor")
        else:
            _junction(child, declared, f"{path}.properties[{name}]", errors)
    if isinstance(branch.get("items"), dict):
        if not isinstance(outer.get("items"), dict):
            errors.append(f"{path}.items: must also be specified outside the junctor")
        else:
            _junction(branch["items"], outer["items"], f"{path}.items", errors)
    for junctor in JUNCTORS:
        for index, nested in enumerate(_branches(branch, junctor)):
            _junction(nested, outer, f"{path}.{junctor}" + ("" if junctor == "not" else f"[{index}]"), errors)


def _branches(node: dict[str, Any], junctor: str) -> list[dict[str, Any]]:
    value = node.get(junctor)
    if value is None:
        return []
    return [value] if junctor == "not" else list(value)


def _int_or_string_pattern(node: dict[str, Any], junctor: str, branch: dict[str, Any]) -> bool:
    """The one exception to "no type in junctors": anyOf [integer, string] under int-or-string."""
    if not node.get("x-kubernetes-int-or-string"):
        return False
    if junctor == "anyOf":
        return node["anyOf"] == INT_OR_STRING
    return junctor == "allOf" and branch.get("anyOf") == INT_OR_STRING and set(branch) == {"anyOf"}


def _list_type(node: dict[str, Any], path: str, errors: list[str]) -> None:
    list_type = node.get("x-kubernetes-list-type")
    if list_type is None:
        if "x-kubernetes-list-map-keys" in node:
            errors.append(f"{path}.x-kubernetes-list-map-keys: needs x-kubernetes-list-type: map")
        return
    if node.get("type") != "array":
        errors.append(f"{path}.x-kubernetes-list-type: only for arrays")
    if list_type not in ("atomic", "set", "map"):
        errors.append(f"{path}.x-kubernetes-list-type: must be atomic, set or map")
    if list_type == "map":
        keys = node.get("x-kubernetes-list-map-keys") or []
        items = node.get("items", {})
        if not keys:
            errors.append(f"{path}.x-kubernetes-list-map-keys: required for list-type map")
        if items.get("type") != "object":
            errors.append(f"{path}.items.type: must be object for list-type map")
        for key in keys:
            if key not in items.get("properties", {}):
                errors.append(f"{path}.x-kubernetes-list-map-keys: {key!r} is not a property of the items")
            elif key not in items.get("required", []) and "default" not in items["properties"][key]:
                errors.append(f"{path}.x-kubernetes-list-map-keys: {key!r} must be required or defaulted")


def _default(node: dict[str, Any], path: str, errors: list[str]) -> None:
    if "default" not in node:
        return
    schema = {key: value for key, value in node.items() if key != "default"}
    for error in jsonschema.Draft7Validator(schema).iter_errors(node["default"]):
        errors.append(f"{path}.default: {error.message}")


def _metadata(metadata: dict[str, Any], errors: list[str]) -> None:
    """Only name and generateName may be restricted, with value validations on strings."""
    path = "openAPIV3Schema.properties[metadata]"
    for key in set(metadata) - {"type", "properties"}:
        errors.append(f"{path}.{key}: metadata may only restrict name and generateName")
    for name, child in metadata.get("properties", {}).items():
        if name not in ("name", "generateName"):
            errors.append(f"{path}.properties[{name}]: metadata may only restrict name and generateName")
        elif child.get("type") != "string":
            errors.append(f"{path}.properties[{name}].type: must be string")
