"""Operational routes: health and the OpenAPI document."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.http.endpoint import Call, endpoint
from chalicelib.http.openapi import openapi_document

ops = Blueprint(__name__)


@endpoint(ops, "/healthz", scope=None, summary="Liveness and database reachability (no auth)",
          responses={200: ("Healthy", "Health")}, errors=(503,))
def healthz(call: Call) -> object:
    if not services().db.ping():
        raise ServiceUnavailable("The catalog database does not answer.")
    return {"status": "ok", "database": "ok"}


@endpoint(ops, "/api/v1/openapi.json", summary="This OpenAPI 3.1 document", responses={200: ("The document", None)})
def openapi(call: Call) -> object:
    return openapi_document()
