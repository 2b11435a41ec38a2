"""Operational routes: health and the OpenAPI document."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.http.endpoint import Call, endpoint
from chalicelib.http.openapi_fragments import ok, problems

ops = Blueprint(__name__)


@endpoint(ops, "/healthz", scope=None)
def healthz(call: Call) -> object:
    if not services().db.ping():
        raise ServiceUnavailable("The catalog database does not answer.")
    return {"status": "ok", "database": "ok"}


@endpoint(ops, "/api/v1/openapi.json")
def openapi(call: Call) -> object:
    from chalicelib.http.openapi import openapi_document

    return openapi_document()


OPENAPI_PATHS = {
    "/healthz": {
        "get": {
            "summary": "Liveness and database reachability (no auth)",
            "security": [],
            "responses": {**ok("Healthy", "Health"), **problems(503)},
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This OpenAPI 3.1 document",
            "responses": {"200": {"description": "The document"}, **problems(401, 403)},
        }
    },
}
