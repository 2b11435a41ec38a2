"""Parsing of request bodies and query strings, with the limits hostile input needs; a query string is
checked against its route's contract (domain/contracts.py) after each value took its declared type."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from chalice.app import Request

from chalicelib.domain.contracts import LABEL_FAMILY, Contract, label_filters
from chalicelib.domain.decimals import ASCII_INTEGER, ASCII_NUMBER
from chalicelib.domain.errors import FieldError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from chalicelib.domain.limits import MAX_LABELS
from chalicelib.domain.storable import first_unstorable, unrepresentable
from chalicelib.domain.validation import TYPE_WORDS

JSON_TYPES = ("application/json", "application/problem+json")


def json_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; 415 for another media type, 413 when too large, 400 when malformed."""
    body = json_value(request, max_bytes)
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.")
    return body


def json_value(request: Request, max_bytes: int) -> Any:
    """The body as any JSON value (415, 413 as json_body); ValidationFailed when it is not well-formed JSON
    (UTF-8, unique keys, no NaN, text that can be stored)."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise UnsupportedMediaType(f"Send the body as application/json (got '{content_type or 'none'}').")
    raw = _body_bytes(request)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The body is {len(raw)} bytes; the limit is {max_bytes} bytes.")
    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
        problem = first_unstorable(body, "$")
    except UnicodeDecodeError:
        raise ValidationFailed("The body is not valid UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    except RecursionError:
        raise ValidationFailed("The body nests too deeply.") from None
    except _DuplicateKey as exc:
        raise ValidationFailed(f"The body repeats the key '{exc.args[0]}'; keys must be unique.") from None
    except ValueError:
        # e.g. an integer literal over Python's 4300-digit conversion limit
        raise ValidationFailed("The body holds a value that cannot be read (a number too large?).") from None
    if problem:
        raise ValidationFailed("The body holds text that cannot be stored.", [problem])
    return body


def _no_constant(name: str) -> None:
    raise ValidationFailed(f"The body holds {name}, which is not JSON.")


class _DuplicateKey(ValueError):
    pass


def _body_bytes(request: Request) -> bytes:
    """The body as bytes. Chalice declares ``raw_body`` as ``str | bytes`` (it encodes a text event body
    today); a str is encoded so the size limit always counts bytes."""
    raw = request.raw_body or b""
    return raw if isinstance(raw, bytes) else raw.encode("utf-8")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def request_path(request: Request) -> str:
    """The path as requested (Chalice's ``Request.path`` is the route template)."""
    return (request.context or {}).get("path") or request.path


def raw_query(request: Request) -> dict[str, str]:
    """The query parameters, each given at most once and storable (a NUL would reach SQL otherwise)."""
    params = request.query_params
    if not params:
        return {}
    errors: list[FieldError] = []
    for name in params:
        values = params.getlist(name)
        if len(values) > 1:
            errors.append(FieldError(f"$.{name[:64]}", "give this parameter once"))
        elif unrepresentable(name) or unrepresentable(values[0]):
            errors.append(FieldError(f"$.{name[:64]}", "must not contain NUL characters or unpaired surrogates"))
    if errors:
        raise ValidationFailed("Invalid query string; see errors.", errors)
    return {name: params[name] for name in params}


def query_values(contract: Contract, raw: Mapping[str, str]) -> dict[str, Any]:
    """The query string checked against its contract: each value converted to the declared type (text ->
    integer, number, boolean), unknown parameters refused, defaults applied."""
    properties = contract.json_schema.get("properties", {})
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    if contract.schema.get("patternProperties"):  # the route takes label filters
        raw, errors = _label_family(raw)
    for name, text in raw.items():
        kind = properties.get(name, {}).get("type")
        try:
            values[name] = _convert(text, kind)
        except ValueError:
            errors.append(FieldError(f"$.{name}", f"must be {TYPE_WORDS.get(str(kind), kind)}"))
    checked = {name: value for name, value in values.items() if f"$.{name}" not in {e.path for e in errors}}
    errors += contract.errors(checked, unknown="unknown query parameter")
    if len(label_filters(raw)) > MAX_LABELS:
        errors.append(FieldError("$.label", f"at most {MAX_LABELS} label filters"))
    if errors:
        names = sorted({e.path[2:] for e in errors if e.message == "unknown query parameter"})
        detail = f"Unknown query parameter(s): {', '.join(names)}." if names else contract.detail
        raise ValidationFailed(detail, sorted(errors, key=lambda e: e.path))
    for name, prop in properties.items():
        if name not in values and "default" in prop:
            values[name] = prop["default"]
    return values


def _label_family(raw: Mapping[str, str]) -> tuple[dict[str, str], list[FieldError]]:
    """``label[key]=value`` (OpenAPI's deepObject style, as the document describes the family) read as
    ``label.key=value`` (the short form); the same key both ways is an error, as any repeated parameter."""
    named: dict[str, str] = {}
    errors: list[FieldError] = []
    for name, value in raw.items():
        key = name[len(DEEP_OBJECT):-1] if name.startswith(DEEP_OBJECT) and name.endswith("]") else None
        if key is not None and "[" not in key and "]" not in key:
            name = f"{LABEL_FAMILY}.{key}"
            if name in raw:
                errors.append(FieldError(f"$.{name[:64]}", f"give this filter once (as {name} or label[{key}])"))
                continue
        named[name] = value
    return named, errors


DEEP_OBJECT = f"{LABEL_FAMILY}["


def _convert(text: str, kind: object) -> Any:
    if kind == "integer":
        if not ASCII_INTEGER.fullmatch(text):
            raise ValueError
        return int(text)  # may raise ValueError beyond int()'s digit limit
    if kind == "number":
        if not ASCII_NUMBER.fullmatch(text):
            raise ValueError
        value = float(text)
        if not math.isfinite(value):
            raise ValueError
        return value
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError
        return text.lower() == "true"
    return text
