"""The ``endpoint`` decorator every route uses: auth scope, body parsing, errors as problems.

Chalice catches exceptions inside the view, so domain errors must become responses here; the
middleware (chalicelib/http/middleware.py) handles what happens outside views.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.config import settings
from chalicelib.domain.errors import CatalogError
from chalicelib.http import request as parse
from chalicelib.http.auth import api_key_authorizer, principal_from, require_scope
from chalicelib.http.problems import error_response, problem_response
from chalicelib.observability import logger
from chalicelib.services.api_keys import Principal

# Chalice answers 415 itself (outside the view) for types a route does not list; listing the common
# ones lets json_body() answer every wrong type with our own problem document.
ACCEPTED_CONTENT_TYPES = [
    "application/json",
    "application/problem+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/xml",
    "text/xml",
    "application/octet-stream",
    "text/html",
    "application/yaml",
    "application/x-yaml",
    "text/csv",
]


@dataclass
class Call:
    """What a handler gets: the request, the authenticated principal, and parsing helpers."""

    request: Request
    principal: Principal | None

    @property
    def actor(self) -> str:
        return self.principal.key_id if self.principal else "system"

    @property
    def params(self) -> Mapping[str, str]:
        return parse.query(self.request)

    def json(self) -> dict[str, Any]:
        return parse.json_body(self.request, settings().max_body_bytes)


def endpoint(
    bp: Blueprint, path: str, methods: tuple[str, ...] = ("GET",), scope: str | None = "catalog:read"
) -> Callable:
    """Registers ``fn(call, **uri_params)`` as a route; ``scope=None`` makes it public."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def view(**uri_params: str) -> Response:
            request = bp.current_request
            try:
                principal = None
                if scope is not None:
                    principal = principal_from(request.context)
                    require_scope(principal, scope)
                # Chalice passes path segments still percent-encoded (aws/chalice#511), so a version
                # sent as 1.0.0%2Bbuild.1 would not match; ids, versions and UUIDs never hold "%", so
                # decoding once is right whether or not the gateway already decoded.
                decoded = {name: unquote(value) for name, value in uri_params.items()}
                return to_response(fn(Call(request, principal), **decoded))
            except CatalogError as error:
                return error_response(error, instance=parse.request_path(request))
            except Exception:
                logger.exception("unhandled error", extra={"route": path})
                return problem_response(
                    500,
                    "internal-error",
                    "Internal error",
                    "The request failed unexpectedly; it has been logged.",
                    parse.request_path(request),
                )

        bp.route(
            path,
            methods=list(methods),
            authorizer=api_key_authorizer if scope is not None else None,
            content_types=ACCEPTED_CONTENT_TYPES,
        )(view)
        return fn

    return decorate


# A Lambda answer is at most 6 MB: a list page stops early (and says where to go on) beyond this.
RESPONSE_BUDGET_BYTES = 4 * 1024 * 1024


def fitting(items: list[Any]) -> int:
    """How many leading items fit in one response; at least one, so paging always moves on."""
    size = 0
    for index, item in enumerate(items):
        size += len(json.dumps(item, default=_json_default, separators=(",", ":")))
        if size > RESPONSE_BUDGET_BYTES and index > 0:
            return index
    return len(items)


def to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    return json_response(result)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, default=_json_default, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def rfc3339(value: datetime) -> str:
    from datetime import UTC

    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
