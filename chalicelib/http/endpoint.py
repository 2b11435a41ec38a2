"""The ``endpoint`` decorator every route uses: auth scope, the request contracts, errors as problems, docs.

A route declares its scope, the contract of its query string (every route has one: unknown query
parameters are a 400 naming them) and of its body, its summary and its answers. The decorator
checks the scope and the query string and normalises the path values (domain/contracts.py
``PATH_PARAMETERS``) before the handler runs, hands the handler a ``Call``, turns domain errors into
RFC 7807 problems, and registers the operation (chalicelib/http/operations.py: the OpenAPI document
and the MCP tools read it there). Chalice
catches exceptions inside the view, so domain errors must become responses here; the middleware
(chalicelib/http/middleware.py) handles what happens outside views.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.config import settings
from chalicelib.domain.contracts import NO_QUERY, Contract
from chalicelib.domain.errors import CatalogError
from chalicelib.domain.guards import SYSTEM
from chalicelib.http import request as parse
from chalicelib.http.auth import api_key_authorizer, principal_from, require_scope
from chalicelib.http.operations import ANY_KEY, Operation, register
from chalicelib.http.problems import error_response, problem_response
from chalicelib.http.views import body_text
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
    """What a handler gets: the request, the authenticated principal, the checked query string."""

    request: Request
    principal: Principal | None
    query: Mapping[str, Any]
    body_contract: Contract | None = None

    @property
    def actor(self) -> str:
        return self.principal.key_id if self.principal else SYSTEM

    def json(self, max_bytes: int = 0) -> dict[str, Any]:
        """The body as a JSON object (415/413/400 when it is not one); its contract is checked by the
        domain function that builds the handler's command from it. ``max_bytes``: a route's own, larger
        body limit (MAX_BODY_BYTES applies when it is larger still)."""
        return parse.json_body(self.request, max(max_bytes, settings().max_body_bytes))

    def body(self) -> dict[str, Any]:
        """The body, checked against the route's contract (for routes whose command needs no more rules)."""
        value = self.json()
        assert self.body_contract is not None, "the route declares no body contract"
        self.body_contract.check(value)
        return value


def endpoint(
    bp: Blueprint,
    path: str,
    methods: tuple[str, ...] = ("GET",),
    scope: str | None = "catalog:read",
    *,
    summary: str,
    responses: Mapping[int, tuple[str, str | None]],
    query: Contract = NO_QUERY,
    body: Contract | None = None,
    errors: tuple[int, ...] = (),
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers ``fn(call, **uri_params)`` as a route; ``scope=None`` makes it public."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        declared = [Operation(path, method.lower(), summary, scope, query, body, responses, errors, description, fn)
                    for method in methods]

        @functools.wraps(fn)
        def view(**uri_params: str) -> Response:
            request = bp.current_request
            try:
                principal = None
                if scope is not None:
                    principal = principal_from(request.context)
                    if scope != ANY_KEY:
                        require_scope(principal, scope)
                values = parse.query_values(query, parse.raw_query(request))
                # Chalice passes path segments still percent-encoded (aws/chalice#511), so a version
                # sent as 1.0.0%2Bbuild.1 would not match; ids, versions and UUIDs never hold "%", so
                # decoding once is right whether or not the gateway already decoded.
                decoded = {name: unquote(value) for name, value in uri_params.items()}
                return to_response(fn(Call(request, principal, values, body), **declared[0].path_values(decoded)))
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

        for operation in declared:
            register(operation)
        bp.route(
            path,
            methods=list(methods),
            authorizer=api_key_authorizer if scope is not None else None,
            content_types=ACCEPTED_CONTENT_TYPES,
        )(view)
        return fn

    return decorate


def to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    return json_response(result)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=body_text(body),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
