"""Routes of the API keys (README, "API keys"): operators in AWS manage keys over HTTP, not in the database."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.container import services
from chalicelib.domain import contracts
from chalicelib.http.endpoint import Call, endpoint, json_response
from chalicelib.http.paging import page_body
from chalicelib.http.views import api_key_view

api_keys = Blueprint(__name__)
BASE = "/api/v1/api-keys"


@endpoint(api_keys, BASE, methods=("POST",), scope="admin", body=contracts.NEW_API_KEY,
          summary="Create an API key; the key itself is in this answer only",
          description="A key creates only keys within its own limits: scopes it holds (admin implies every scope), "
                      "namespaces among its own (a key without a namespace limit may create limited ones) and its own "
                      "cluster binding when it has one; 403 otherwise, and nothing is stored.",
          responses={201: ("Created; keep api_key now, it is stored only as a hash", "ApiKeyCreated")})
def create_api_key(call: Call) -> object:
    body = call.body()
    row, token = services().api_keys.issue(body["name"].strip(), body["scopes"], body.get("namespaces"),
                                           body.get("cluster"), creator=call.principal)
    return json_response({**api_key_view(row), "api_key": token}, status=201)


@endpoint(api_keys, BASE, scope="admin", query=contracts.PAGE_QUERY,
          summary="API keys, oldest first (never their secrets); revoked keys show revoked_at",
          description="Only the keys within the calling key's own limits (the keys it could create).",
          responses={200: ("A page of keys", "ApiKeyPage")})
def list_api_keys(call: Call) -> object:
    return page_body(services().api_keys.page(call.query["limit"], call.query.get("cursor"), viewer=call.principal),
                     api_key_view)


@endpoint(api_keys, BASE + "/{key_id}", methods=("DELETE",), scope="admin",
          summary="Revoke an API key (within the authorizer's 60 s cache in AWS)",
          description="403 for a key outside the calling key's own limits (one it could not create).",
          responses={204: ("Revoked (or revoked already)", None)}, errors=(404,))
def revoke_api_key(call: Call, key_id: str) -> object:
    services().api_keys.revoke_existing(key_id, actor=call.principal)
    return Response(body="", status_code=204)
