"""API-key authentication: a Chalice built-in authorizer at the edge, scope checks in each route.

The authorizer (its own Lambda in AWS, run in-process by ``chalice local`` and the test client)
resolves the bearer key to a principal and its scopes; it lets unknown keys through as
"anonymous" so that the route answers a proper RFC 7807 401 (API Gateway's own authorizer
denials cannot carry our problem body). A request without an Authorization header never reaches
the authorizer: API Gateway answers 401 itself, shaped as a problem by the Gateway Responses in
infra/ (and by devserver/gateway.py locally). Results are cached by API Gateway for
AUTHORIZER_TTL seconds, so a revoked key stops working within that time.
"""

from __future__ import annotations

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest

from chalicelib.domain.errors import CatalogError, Forbidden, ServiceUnavailable, Unauthorized
from chalicelib.http.problems import MISSING_KEY_DETAIL
from chalicelib.services.api_keys import Principal

AUTHORIZER_TTL = 60
ANONYMOUS = "anonymous"
ALL_NAMESPACES = "*"
MALFORMED = "malformed"

auth = Blueprint(__name__)


@auth.authorizer(ttl_seconds=AUTHORIZER_TTL)
def api_key_authorizer(auth_request: AuthRequest) -> AuthResponse:
    from chalicelib.container import services  # the authorizer is its own Lambda entry point

    scheme, _, token = (auth_request.token or "").partition(" ")
    context = {"scopes": "", "key_name": "", "namespaces": ALL_NAMESPACES, "cluster": "", "error": ""}
    principal = None
    if scheme.lower() == "bearer" and token.strip():
        try:
            principal = services().api_keys.authenticate(token.strip())
        except CatalogError:
            context["error"] = "unavailable"
    else:
        context["error"] = MALFORMED  # a header, but not a bearer key: the 401 says how to send one
    if principal is None:
        return AuthResponse(routes=["*"], principal_id=ANONYMOUS, context=context)
    namespaces = ALL_NAMESPACES if principal.namespaces is None else " ".join(sorted(principal.namespaces))
    context.update(scopes=" ".join(sorted(principal.scopes)), key_name=principal.name, namespaces=namespaces,
                   cluster=principal.cluster or "")
    return AuthResponse(routes=["*"], principal_id=principal.key_id, context=context)


def principal_from(request_context: dict) -> Principal:
    """The principal the authorizer established; raises 401/503 when there is none."""
    authorizer = request_context.get("authorizer") or {}
    if authorizer.get("error") == "unavailable":
        raise ServiceUnavailable("Cannot check the API key right now; try again shortly.")
    key_id = authorizer.get("principalId") or ANONYMOUS
    if authorizer.get("error") == MALFORMED:
        raise Unauthorized(MISSING_KEY_DETAIL, key_sent=False)
    if key_id == ANONYMOUS:
        raise Unauthorized("The API key is not valid (unknown or revoked); send a valid one as "
                           "'Authorization: Bearer <key>'.")
    # An authorizer context is a flat string map: "*" is every namespace, else the space-separated list; the
    # cluster binding is its name, "" for a key bound to none.
    namespaces = authorizer.get("namespaces", ALL_NAMESPACES)
    limited = None if namespaces == ALL_NAMESPACES else frozenset(namespaces.split())
    return Principal(key_id, authorizer.get("key_name", ""), frozenset((authorizer.get("scopes") or "").split()),
                     limited, authorizer.get("cluster") or None)


def require_scope(principal: Principal, scope: str) -> None:
    if not principal.allows(scope):
        raise Forbidden(f"This API key lacks the '{scope}' scope.")
