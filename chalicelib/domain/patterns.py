"""ECMA-262 regular expressions: what a JSON Schema ``pattern`` means, for every pattern the catalog evaluates.

JSON Schema (2020-12, and OpenAPI 3.1 with it) says a ``pattern`` is an ECMA-262 regular expression,
found anywhere in the string unless anchored. Python's ``re`` reads the same text differently where
identifiers care: ``$`` also matches before a trailing newline (``"512Mi\\n"`` matches ``^[0-9]+Mi$``,
``"payments\\n"`` is a "DNS-1123 label"), ``\\d`` and ``\\w`` match non-ASCII digits and letters, and ``\\s``
disagrees about a few characters (U+001C-U+001F, U+FEFF). So the request contracts, the CRD's schema,
the parameter schemas and the values they check, and every identifier check outside JSON Schema
(``is_workflow_id``) use one engine: ``regress``, Rust's ECMA-262 engine, with the ``u`` flag as
JSON Schema's own test suite expects (code points, ``\\p{L}``). A pattern written for ECMA-262's
legacy, non-Unicode syntax only (e.g. ``\\_``) is read that way instead, so a stored parameter schema
keeps working; one that is not ECMA-262 at all (Python's ``(?P<name>...)``) is refused when a schema is
created (``ecma_format_checker``) and matches nothing when met in a stored one.

``ecma_validator`` is jsonschema's draft 2020-12 validator with ``pattern``, ``patternProperties`` and
``additionalProperties`` (which consults patternProperties) evaluated here. ``unevaluatedProperties``
still consults patternProperties with Python's ``re``: no schema the catalog evaluates pairs them on
an object (parameter schemas allow neither at their top level and their values are scalars).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import regress
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

UNICODE = "u"


class InvalidPattern(ValueError):
    """The text is not an ECMA-262 regular expression."""


@lru_cache(maxsize=4096)
def compiled(pattern: str) -> regress.Regex:
    """The compiled expression (Unicode mode; legacy mode for a pattern valid only there)."""
    import regress

    for flags in (UNICODE, None):
        try:
            return regress.Regex(pattern, flags) if flags else regress.Regex(pattern)
        except regress.RegressError:
            continue
    raise InvalidPattern(f"{pattern!r} is not an ECMA-262 regular expression")


def is_pattern(pattern: object) -> bool:
    """Is ``pattern`` an ECMA-262 regular expression?"""
    if not isinstance(pattern, str):
        return False
    try:
        compiled(pattern)
    except InvalidPattern:
        return False
    return True


def search(pattern: str, text: str) -> bool:
    """Does ``pattern`` match somewhere in ``text`` (JSON Schema's ``pattern``)? False for an invalid pattern."""
    try:
        return compiled(pattern).find(text) is not None
    except InvalidPattern:
        return False


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "string"):
        return
    # A string over its maxLength is refused by that keyword already: the expression is not run on it (a pattern
    # with nested repetition must never meet a megabyte of hostile text).
    limit = schema.get("maxLength")
    if isinstance(limit, int) and len(instance) > limit:
        return
    if not search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
                        ) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def additional_keys(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The keys of ``instance`` that neither ``properties`` nor ``patternProperties`` of ``schema`` cover."""
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [key for key in instance if key not in properties and not any(search(p, key) for p in patterns)]


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]
                           ) -> Iterator[ValidationError]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    extras = additional_keys(instance, schema)
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        listed = ", ".join(repr(extra) for extra in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


@cache
def ecma_validator() -> type[Draft202012Validator]:
    """jsonschema's draft 2020-12 validator with ECMA-262 patterns (built on first use: jsonschema's import
    costs cold-start time a request may not need)."""
    from jsonschema import Draft202012Validator, validators

    extended = validators.extend(Draft202012Validator, {
        "pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties,
    }, format_checker=ecma_format_checker())
    return extended


@cache
def ecma_format_checker() -> FormatChecker:
    """Draft 2020-12's format checker with ``regex`` meaning ECMA-262 (``check_schema`` checks ``pattern`` with it)."""
    from jsonschema import Draft202012Validator, FormatChecker

    checker = FormatChecker()
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("regex")(lambda value: not isinstance(value, str) or is_pattern(value))
    return checker
