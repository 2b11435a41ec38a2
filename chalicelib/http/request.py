"""Parsing of request bodies and query strings, with the limits hostile input needs."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from chalice.app import Request

from chalicelib.domain.decimals import ASCII_INTEGER
from chalicelib.domain.errors import FieldError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from chalicelib.domain.labels import LABEL_KEY, MAX_LABELS, MAX_VALUE_LENGTH
from chalicelib.domain.storable import first_unstorable, unrepresentable

JSON_TYPES = ("application/json", "application/problem+json")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_CURSOR = 512
LABEL_PREFIX = "label."


def json_body(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; 415 for another media type, 413 when too large, 400 when malformed."""
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
    if not isinstance(body, dict):
        raise ValidationFailed("The body must be a JSON object.")
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


def query(request: Request) -> Mapping[str, str]:
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


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        if not ASCII_INTEGER.fullmatch(raw):
            raise ValueError
        value = int(raw)
    except ValueError:  # not digits, or more digits than int() converts
        raise ValidationFailed(
            f"'{name}' must be an integer.", [FieldError(f"$.{name}", "must be an integer")]
        ) from None
    if not low <= value <= high:
        raise ValidationFailed(
            f"'{name}' must be between {low} and {high}.",
            [FieldError(f"$.{name}", f"must be between {low} and {high}")],
        )
    return value


def limit_param(params: Mapping[str, str]) -> int:
    return int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def bool_param(params: Mapping[str, str], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ValidationFailed(f"'{name}' must be true or false.", [FieldError(f"$.{name}", "must be true or false")])


def label_params(params: Mapping[str, str]) -> dict[str, str]:
    """``label.<key>=<value>`` query parameters; keys must be label keys (nothing else reaches SQL)."""
    labels: dict[str, str] = {}
    errors: list[FieldError] = []
    names = [name for name in params if name.startswith(LABEL_PREFIX)]
    if len(names) > MAX_LABELS:
        raise ValidationFailed(f"At most {MAX_LABELS} label filters.", [FieldError("$.label", f"at most {MAX_LABELS}")])
    for name in names:
        value = params[name]
        key = name[len(LABEL_PREFIX) :]
        if not LABEL_KEY.match(key):
            errors.append(FieldError(f"$.{name}", "label keys are lower_snake_case"))
        elif not value.strip() or len(value) > MAX_VALUE_LENGTH:
            errors.append(FieldError(f"$.{name}", f"a label value is 1-{MAX_VALUE_LENGTH} characters"))
        else:
            labels[key] = value
    if errors:
        raise ValidationFailed("Invalid label filter.", errors)
    return labels


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(params: Mapping[str, str], check: Any) -> Any:
    """Decodes ``?cursor=``; ``check`` validates the decoded position's shape (returns bool)."""
    raw = params.get("cursor")
    if raw is None or raw == "":
        return None
    try:
        if len(raw) > MAX_CURSOR:
            raise ValueError
        position = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not check(position):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "The cursor is not valid; use next_cursor from a previous page.",
            [FieldError("$.cursor", "not a cursor this endpoint issued")],
        ) from None
    return position
