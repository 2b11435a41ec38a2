"""Checking a value against a request contract (a JSON Schema), with one error format for every contract.

jsonschema does the checking; this module turns its errors into the catalog's ``FieldError`` list:
JSON paths such as ``$.labels.severity`` or ``$.items[2]``, and short messages an operator or a
model can act on ("is required", "unknown field", "must be at most 200 characters"). A schema
node can word its own message with ``x-message`` (any failure of that node), ``x-required-message``
(a missing property) and ``x-type-message`` (a wrong type); these ``x-`` keywords are ignored by
JSON Schema validators and allowed in OpenAPI, so contracts stay plain schemas everywhere.

Validators are built on first use (jsonschema's import and schema compilation cost cold-start
time a request may not need) and kept per schema.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import FieldError
from chalicelib.domain.limits import IDENTIFIER_TEXT, NON_BLANK
from chalicelib.domain.patterns import additional_keys, ecma_validator

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}

_validators: dict[str, Draft202012Validator] = {}
_lock = threading.Lock()


def validator_for(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A cached draft 2020-12 validator for ``schema`` (keyed by its canonical JSON), ``pattern`` meaning ECMA-262
    (chalicelib/domain/patterns.py)."""
    key = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    with _lock:
        found = _validators.get(key)
    if found is not None:
        return found
    built = ecma_validator()(schema)
    with _lock:
        return _validators.setdefault(key, built)


def schema_errors(schema: Mapping[str, Any], value: object, root: str = "$", unknown: str = "unknown field"
                  ) -> list[FieldError]:
    """Every problem of ``value`` against ``schema``, sorted by path; ``unknown`` words an extra property."""
    first: dict[str, FieldError] = {}  # one problem per place: an empty string is "empty", not also "blank"
    for error in validator_for(schema).iter_errors(value):
        for problem in _field_errors(error, root, unknown):
            first.setdefault(problem.path, problem)
    return sorted(first.values(), key=lambda e: e.path)


def json_path(root: str, parts: Iterable[Any]) -> str:
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _field_errors(error: ValidationError, root: str, unknown: str) -> list[FieldError]:
    path = json_path(root, error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    keyword, argument = error.validator, error.validator_value
    if keyword == "required":
        missing = error.message.split("'")[1]
        return [FieldError(f"{path}.{missing}", schema.get("x-required-message", "is required"))]
    if keyword == "additionalProperties" and argument is False and isinstance(error.instance, Mapping):
        extra = additional_keys(error.instance, schema)
        return [FieldError(f"{path}.{key}"[:200], unknown) for key in sorted(extra)]
    if len(error.absolute_schema_path) > 1 and list(error.absolute_schema_path)[-2] == "propertyNames":
        # A key that is not an allowed name: the error is about the key itself.
        return [FieldError(f"{path}.{error.instance}"[:200], schema.get("x-message", "is not an allowed name"))]
    if keyword == "anyOf" and isinstance(argument, list):
        # One branch per shape (a string, or a list of strings): the value's own type picks the branch, so the
        # error points at what is wrong inside it (the item of a list); a value of no branch's type is a type error.
        chosen = [index for index, branch in enumerate(argument) if _admits_type(branch, error.instance)]
        if len(chosen) == 1:
            inside = [sub for sub in error.context or () if sub.relative_schema_path[0] == chosen[0]]
            return [problem for sub in inside for problem in _field_errors(sub, root, unknown)]
        if "x-type-message" in schema:
            return [FieldError(path, schema["x-type-message"])]
    if "x-message" in schema and keyword != "type":
        return [FieldError(path, schema["x-message"])]
    return [FieldError(path, _message(str(keyword), argument, schema, error))]


_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "object": Mapping, "array": list,
    "null": type(None),
}


def _admits_type(branch: object, instance: object) -> bool:
    """Does the anyOf ``branch`` declare the JSON type of ``instance`` (true and false are not numbers)?"""
    kind = branch.get("type") if isinstance(branch, Mapping) else None
    if not isinstance(kind, str) or kind not in _PYTHON_TYPES:
        return False
    if isinstance(instance, bool) and kind != "boolean":
        return False
    if kind == "integer" and isinstance(instance, float):
        return instance.is_integer()
    return isinstance(instance, _PYTHON_TYPES[kind])


def _message(keyword: str, argument: Any, schema: Mapping[str, Any], error: ValidationError) -> str:
    if keyword == "type":
        if "x-type-message" in schema:
            return str(schema["x-type-message"])
        kinds = [argument] if isinstance(argument, str) else list(argument)
        return "must be " + " or ".join(TYPE_WORDS.get(kind, kind) for kind in kinds)
    if keyword == "minLength":
        return "must not be empty" if argument == 1 else f"must be at least {argument} characters"
    if keyword == "maxLength":
        return f"must be at most {argument} characters"
    if keyword == "pattern":
        if argument == NON_BLANK:
            return "must not be empty or only spaces"
        if argument == IDENTIFIER_TEXT:
            return "must not be only spaces or contain control characters (line breaks, tabs, ...)"
        return f"must match {argument}"
    if keyword == "enum":
        return "must be one of " + ", ".join(json.dumps(item) for item in argument)
    if keyword == "const":
        return f"must be {json.dumps(argument)}"
    if keyword in ("minimum", "maximum"):
        return f"must be {'at least' if keyword == 'minimum' else 'at most'} {argument}"
    if keyword in ("minItems", "maxItems"):
        return f"must have {'at least' if keyword == 'minItems' else 'at most'} {argument} items"
    if keyword in ("minProperties", "maxProperties"):
        return f"must have {'at least' if keyword == 'minProperties' else 'at most'} {argument} entries"
    return error.message[:300]
