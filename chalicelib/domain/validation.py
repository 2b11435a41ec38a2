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
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import FieldError

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
    """A cached draft 2020-12 validator for ``schema`` (keyed by its canonical JSON)."""
    key = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    with _lock:
        found = _validators.get(key)
    if found is not None:
        return found
    from jsonschema import Draft202012Validator

    built = Draft202012Validator(schema)
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
        declared = set(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        extra = [key for key in error.instance if key not in declared and not _matches_any(key, patterns)]
        return [FieldError(f"{path}.{key}"[:200], unknown) for key in sorted(extra)]
    if len(error.absolute_schema_path) > 1 and list(error.absolute_schema_path)[-2] == "propertyNames":
        # A key that is not an allowed name: the error is about the key itself.
        return [FieldError(f"{path}.{error.instance}"[:200], schema.get("x-message", "is not an allowed name"))]
    if "x-message" in schema and keyword != "type":
        return [FieldError(path, schema["x-message"])]
    return [FieldError(path, _message(str(keyword), argument, schema, error))]


def _matches_any(key: str, patterns: Sequence[str]) -> bool:
    return any(re.search(pattern, key) for pattern in patterns)


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
        return "must not be empty or only spaces" if argument == "\\S" else f"must match {argument}"
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
