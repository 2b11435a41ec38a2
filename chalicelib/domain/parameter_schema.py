"""The parameter-schema rules of docs/playbook-schema.md, shared by the API, registration and execution.

A workflow's ``parameters`` is a JSON Schema (draft 2020-12) object schema that the agent can use
as a tool input schema. On top of being a valid schema: property names are environment variable
names, each property has a scalar ``type`` (or an ``enum`` of scalars) and a ``description``,
``additionalProperties`` is false or absent, ``$ref`` stays inside the document, defaults are valid,
at most 100 parameters. Errors carry the JSON path of the rule that broke.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from chalicelib.domain.errors import FieldError
from chalicelib.domain.limits import MAX_PARAMETERS, MAX_SCHEMA_BYTES, PARAMETER_NAME_PATTERN
from chalicelib.domain.patterns import ecma_format_checker, ecma_validator, search
from chalicelib.domain.storable import UNSTORABLE, unrepresentable

SCALAR_TYPES = {"string", "integer", "number", "boolean"}
ALLOWED_KEYWORDS = {
    "$schema", "$id", "$defs", "$comment", "type", "title", "description", "properties",
    "required", "additionalProperties", "dependentRequired", "examples",
}


def validate_parameter_schema(schema: object, path: str = "$.parameters") -> list[FieldError]:
    """Returns every violation of the parameter-schema rules (empty when the schema is good)."""
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, Mapping):
        return [FieldError(path, "must be a JSON Schema object")]
    if len(json.dumps(schema, separators=(",", ":"))) > MAX_SCHEMA_BYTES:
        return [FieldError(path, f"must be at most {MAX_SCHEMA_BYTES} bytes as JSON")]
    try:
        # Every pattern must be ECMA-262 (the validator evaluates it so): format "regex" of the meta-schema.
        ecma_validator().check_schema(schema, format_checker=ecma_format_checker())
    except SchemaError as exc:
        location = "".join(_json_path(exc.absolute_path))
        return [FieldError(path + location, f"not a valid JSON Schema (draft 2020-12): {exc.message}")]

    errors: list[FieldError] = []
    for key in schema:
        if key not in ALLOWED_KEYWORDS:
            errors.append(FieldError(f"{path}.{key}", "keyword not allowed at the top level of a parameter schema"))
    if schema.get("type") != "object":
        errors.append(FieldError(f"{path}.type", "must be \"object\""))
    if schema.get("additionalProperties", False) is not False:
        errors.append(FieldError(f"{path}.additionalProperties",
                                 "must be false or absent (undeclared parameters are rejected)"))
    errors.extend(_external_refs(schema, path))

    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        return [*errors, FieldError(f"{path}.properties", "must be an object")]
    if len(properties) > MAX_PARAMETERS:
        errors.append(FieldError(f"{path}.properties", f"at most {MAX_PARAMETERS} parameters"))
    for name, prop in properties.items():
        errors.extend(_check_property(name, prop, f"{path}.properties.{name}"))

    declared = set(properties)
    for index, name in enumerate(schema.get("required", [])):
        if name not in declared:
            errors.append(FieldError(f"{path}.required[{index}]",
                                     f"'{name}' is required but not declared in properties"))
    for name, needed in schema.get("dependentRequired", {}).items():
        for dep in [name, *needed]:
            if dep not in declared:
                errors.append(FieldError(f"{path}.dependentRequired.{name}", f"'{dep}' is not declared in properties"))
    return errors


def _check_property(name: str, prop: object, where: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not search(PARAMETER_NAME_PATTERN, name):
        errors.append(FieldError(where, "parameter names are environment variable names (^[A-Z][A-Z0-9_]*$)"))
    if not isinstance(prop, Mapping):
        return [*errors, FieldError(where, "must be an object")]
    kind = prop.get("type")
    if kind is None and "enum" in prop:
        if not all(isinstance(v, (str, int, float, bool)) for v in prop["enum"]):
            errors.append(FieldError(f"{where}.enum", "enum values must be strings, numbers or booleans"))
    elif kind not in SCALAR_TYPES:
        errors.append(FieldError(f"{where}.type", "must be one of string, integer, number, boolean"))
    description = prop.get("description")
    if not isinstance(description, str) or not description.strip():
        errors.append(FieldError(f"{where}.description", "every parameter needs a description"))
    if "default" in prop:
        problems = list(ecma_validator()(prop).iter_errors(prop["default"]))
        if problems:
            errors.append(FieldError(f"{where}.default", f"default is not valid: {problems[0].message}"))
    return errors


def _external_refs(node: Any, where: str) -> Iterator[FieldError]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and not value.startswith("#"):
                yield FieldError(f"{where}.$ref", "references outside the document are not allowed")
            else:
                yield from _external_refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _external_refs(item, f"{where}[{index}]")


def _json_path(parts: Any) -> Iterator[str]:
    for part in parts:
        yield f"[{part}]" if isinstance(part, int) else f".{part}"


def validate_parameters(schema: Mapping[str, Any], values: object) -> tuple[list[FieldError], dict[str, Any]]:
    """Validates proposed parameter values against a stored schema; applies defaults.

    Undeclared names are always errors (the schema may omit ``additionalProperties``) and are
    left out of the returned values. ``required`` and ``dependentRequired`` are checked here so
    each error points at the parameter the caller has to add; every other keyword is jsonschema's,
    reported per parameter with a message that never quotes the value (it may be ``writeOnly``).
    Returns (errors sorted by path, declared parameters with defaults applied).
    """
    if not isinstance(values, Mapping):
        return [FieldError("$.parameters", "must be an object of parameter name -> value")], {}
    properties: Mapping[str, Any] = schema.get("properties", {})
    errors = [
        FieldError(f"$.parameters.{_shown(name)}", f"'{_shown(name)}' is not a declared parameter")
        for name in values if name not in properties
    ]
    with_defaults = {name: value for name, value in values.items() if name in properties}
    for name, prop in properties.items():
        if name not in with_defaults and isinstance(prop, Mapping) and "default" in prop:
            with_defaults[name] = prop["default"]
    for name in schema.get("required", []):
        if name not in with_defaults:
            errors.append(FieldError(f"$.parameters.{name}", "is required"))
    for name, needed in schema.get("dependentRequired", {}).items():
        for other in needed:
            if name in with_defaults and other not in with_defaults:
                errors.append(FieldError(f"$.parameters.{other}", f"is required when {name} is set"))
    unsafe = {name for name, value in with_defaults.items() if unrepresentable(value)}
    for name in sorted(unsafe):
        errors.append(FieldError(f"$.parameters.{name}", UNSTORABLE))
    structural = {"required", "dependentRequired", "additionalProperties"}
    for error in ecma_validator()(schema).iter_errors({k: v for k, v in with_defaults.items() if k not in unsafe}):
        if error.validator not in structural:
            location = "".join(_json_path(error.absolute_path))
            errors.append(FieldError(f"$.parameters{location}", _safe_message(error)))
    return sorted(set(errors), key=lambda e: (e.path, e.message)), with_defaults


MAX_SHOWN_NAME = 64


def _shown(name: str) -> str:
    """An undeclared name as echoed in an error: names are not values, but bound their size."""
    return name if len(name) <= MAX_SHOWN_NAME else name[:MAX_SHOWN_NAME] + "..."


def _safe_message(error: Any) -> str:
    """jsonschema messages quote the offending value; a writeOnly value must never be echoed."""
    if error.validator in ("pattern", "enum", "type", "minLength", "maxLength", "format", "const"):
        constraint = error.validator_value
        if error.validator == "type":
            return f"must be of type {constraint}"
        if error.validator == "pattern":
            return f"must match the pattern {constraint}"
        if error.validator == "enum":
            return f"must be one of {json.dumps(constraint)}"
        if error.validator == "minLength":
            return f"must be at least {constraint} characters"
        if error.validator == "maxLength":
            return f"must be at most {constraint} characters"
        return f"must satisfy {error.validator} {json.dumps(constraint)}"
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return f"must satisfy {error.validator} {error.validator_value}"
    if error.validator == "required":
        return "is required"
    return f"does not satisfy {error.validator}"
