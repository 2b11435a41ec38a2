"""MCP over Streamable HTTP, answered inside one Chalice route: stateless, JSON responses, two eras.

What is written by hand here, and why. The protocol itself comes from the official SDK's types
distribution, ``mcp-types``: the JSON-RPC envelope models, the protocol-version registry, the error
codes, and its per-version method tables, which validate each request's params
(``parse_client_request``) and shape each result for the version in use (``serialize_server_result``).
What is left is glue the SDK cannot give a Lambda handler: its server (``mcp.server``) is an ASGI
application with a task group and per-request streams, built to run under an ASGI server, and the
``mcp`` package brings starlette, uvicorn, an HTTP client and about 0.9 s of imports to a Lambda that
receives one API Gateway event and must answer it. ``awslabs-mcp-lambda-handler`` takes the raw
Lambda event (a second entry point beside our authorizer and middleware) and derives tool schemas
from Python signatures instead of our contracts. So this module only:
- reads the body (the same hostile-input rules as every body) and picks the era from the
  ``MCP-Protocol-Version`` header, as the SDK's own server does: no header or a handshake-era
  version is the ``initialize`` era, anything else the 2026-07-28 per-request envelope;
- checks the 2026-07-28 envelope as the SDK's inbound ladder does (``params._meta`` carries the
  protocol version and client capabilities; the ``MCP-Protocol-Version``, ``Mcp-Method`` and
  ``Mcp-Name`` headers agree with the body; the version is one we serve);
- dispatches the few methods we serve and sets each answer's HTTP status: a notification 202;
  malformed JSON, an invalid request, bad params, a header mismatch and an unsupported version 400
  (the latter with the versions we support); an unknown method 404 in the 2026-07-28 era and, in
  the handshake era, a JSON-RPC error on 200 (a 404 there tells clients their session is gone).
Tools are REST routes (chalicelib/http/mcp/tools.py). Each request's log line names the JSON-RPC
method, the tool and the outcome (fields bound here, written by the request middleware).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import mcp_types
from chalice import Response
from chalice.app import Request
from mcp_types import jsonrpc
from mcp_types.methods import parse_client_request, serialize_server_result
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError

from chalicelib.config import settings
from chalicelib.domain.contracts import MCP_MESSAGE
from chalicelib.domain.errors import ValidationFailed
from chalicelib.http import request as parse
from chalicelib.http.mcp.tools import Tool, call
from chalicelib.http.openapi import API_VERSION
from chalicelib.http.views import body_text, dumps
from chalicelib.observability import bind
from chalicelib.services.api_keys import Principal

# The versions we serve. structuredContent (a tool result equal to the REST body) exists from 2025-06-18.
HANDSHAKE_VERSIONS = ("2025-06-18", "2025-11-25")
MODERN_VERSIONS = ("2026-07-28",)
SUPPORTED_VERSIONS = (*HANDSHAKE_VERSIONS, *MODERN_VERSIONS)

SERVER_INFO = {"name": "workflow-catalog", "title": "Remediation Workflow Catalog", "version": API_VERSION}
CAPABILITIES = {"tools": {"listChanged": False}}
INSTRUCTIONS = (
    "Remediation Workflow Catalog: container-based remediation workflows for Kubernetes incidents. Flow: "
    "search_workflows with the incident's text and the alert's labels (hard filters, copied from the alert, never "
    "guessed) -> if confident is true, get_workflow for the parameter schema -> fill parameters from your analysis "
    "-> validate_parameters until valid -> start_execution -> get_execution to follow it. If confident is false, "
    "do not execute: call recommend_workflow and hand the incident to a human."
)

VERSION_HEADER, METHOD_HEADER, NAME_HEADER = "mcp-protocol-version", "mcp-method", "mcp-name"
PROTOCOL_VERSION_KEY = mcp_types.PROTOCOL_VERSION_META_KEY
CLIENT_CAPABILITIES_KEY = mcp_types.CLIENT_CAPABILITIES_META_KEY
# The methods served in each era besides initialize; any other is METHOD_NOT_FOUND (we offer tools only).
LEGACY_METHODS = frozenset({"ping", "tools/list", "tools/call"})
MODERN_METHODS = frozenset({"server/discover", "tools/list", "tools/call"})
CACHEABLE = frozenset({"server/discover", "tools/list"})


class ProtocolError(Exception):
    """A JSON-RPC error answer, with the HTTP status it goes out with."""

    def __init__(self, code: int, message: str, status: int, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data


def handle(request: Request, principal: Principal, tools: Sequence[Tool]) -> Response:
    """Answers one MCP message (413/415 problems, like every body, are raised for the endpoint to answer)."""
    version_header = _header(request, VERSION_HEADER)
    modern = version_header is not None and version_header not in HANDSHAKE_PROTOCOL_VERSIONS
    request_id: Any = None
    try:
        message = _message(request)
        bind(mcp_method=message["method"][:100], mcp_era="2026-07-28" if modern else "handshake")
        if "id" not in message:
            _notification(message, version_header, modern)
            return Response(body="", status_code=202, headers={"Content-Type": "application/json"})
        envelope = _request(message)
        request_id = envelope.id
        if modern:
            result = _modern(envelope, request, principal, tools)
        else:
            result = _handshake(envelope, version_header, request, principal, tools)
        return _answer(jsonrpc.JSONRPCResponse(jsonrpc="2.0", id=envelope.id, result=result), 200)
    except ProtocolError as error:
        return _error(request_id, error)


def _message(request: Request) -> dict[str, Any]:
    try:
        message = parse.json_value(request, settings().max_body_bytes)
    except ValidationFailed as error:
        raise ProtocolError(jsonrpc.PARSE_ERROR, f"Parse error: {error.detail}", 400) from None
    if not isinstance(message, dict):
        raise ProtocolError(jsonrpc.INVALID_REQUEST, "Invalid request: send one JSON-RPC message as a JSON "
                            "object (batches are not supported)", 400)
    problems = MCP_MESSAGE.errors(message)
    if problems:
        raise ProtocolError(jsonrpc.INVALID_REQUEST, "Invalid request: not a JSON-RPC 2.0 request or "
                            "notification", 400, [e.to_dict() for e in problems])
    return message


def _request(message: dict[str, Any]) -> jsonrpc.JSONRPCRequest:
    try:
        return jsonrpc.JSONRPCRequest.model_validate(message)
    except ValidationError:
        raise ProtocolError(jsonrpc.INVALID_REQUEST, "Invalid request: the id must be a string or an integer",
                            400) from None


def _notification(message: dict[str, Any], version_header: str | None, modern: bool) -> None:
    """Notifications are acknowledged and dropped (a stateless server has nothing for them to act on), unless
    they name a version we do not serve."""
    served = MODERN_VERSIONS if modern else HANDSHAKE_VERSIONS
    if version_header is not None and version_header not in served:
        raise _unsupported(version_header)


# --- the initialize (handshake) era: 2025-06-18, 2025-11-25 ----------------------------------------
def _handshake(envelope: jsonrpc.JSONRPCRequest, version_header: str | None, request: Request,
               principal: Principal, tools: Sequence[Tool]) -> dict[str, Any]:
    if version_header is not None and version_header not in HANDSHAKE_VERSIONS:
        raise _unsupported(version_header)
    method, params = envelope.method, envelope.params
    if method == "initialize":
        requested = (params or {}).get("protocolVersion")
        # A version we do not serve gets our latest (the client decides whether it can speak it).
        version = requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]
        _parse(method, version, params, status=200)
        bind(mcp_protocol_version=version)
        return serialize_server_result(method, version, {
            "protocolVersion": version, "capabilities": CAPABILITIES, "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS})
    version = version_header or HANDSHAKE_VERSIONS[-1]
    bind(mcp_protocol_version=version)
    if method not in LEGACY_METHODS:
        raise ProtocolError(jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method}", 200)
    parsed = _parse(method, version, params, status=200)
    if method == "ping":
        return serialize_server_result(method, version, {})
    return serialize_server_result(method, version, _tools_method(parsed, request, principal, tools, status=200))


# --- the per-request envelope era: 2026-07-28 -------------------------------------------------------
def _modern(envelope: jsonrpc.JSONRPCRequest, request: Request, principal: Principal,
            tools: Sequence[Tool]) -> dict[str, Any]:
    version = _envelope_version(envelope, request)
    bind(mcp_protocol_version=version)
    method = envelope.method
    if method not in MODERN_METHODS:
        raise ProtocolError(jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method}", 404)
    parsed = _parse(method, version, envelope.params, status=400)
    if method == "server/discover":
        result: dict[str, Any] = {"supportedVersions": list(MODERN_VERSIONS), "capabilities": CAPABILITIES,
                                  "instructions": INSTRUCTIONS}
    else:
        result = _tools_method(parsed, request, principal, tools, status=400)
    result.update({"resultType": "complete", "_meta": {mcp_types.SERVER_INFO_META_KEY: SERVER_INFO}})
    if method in CACHEABLE:
        # Results depend on the API key (its scopes), so caches must not be shared; nothing is cached for long.
        result.update({"cacheScope": "private", "ttlMs": 0})
    return serialize_server_result(method, version, result)


def _envelope_version(envelope: jsonrpc.JSONRPCRequest, request: Request) -> str:
    """The version of a 2026-07-28 request, once its envelope and routing headers are consistent."""
    meta = (envelope.params or {}).get("_meta")
    if not isinstance(meta, Mapping) or any(key not in meta for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY)):
        raise ProtocolError(jsonrpc.INVALID_PARAMS, f"params._meta must carry {PROTOCOL_VERSION_KEY!r} and "
                            f"{CLIENT_CAPABILITIES_KEY!r}", 400)
    version = meta[PROTOCOL_VERSION_KEY]
    if _header(request, VERSION_HEADER) != version:
        raise _mismatch("the MCP-Protocol-Version header does not match params._meta's protocol version")
    if _header(request, METHOD_HEADER) != envelope.method:
        raise _mismatch("the Mcp-Method header does not match the request's method")
    name = (envelope.params or {}).get("name")
    if envelope.method == "tools/call" and name is not None and _decoded(_header(request, NAME_HEADER)) != name:
        raise _mismatch("the Mcp-Name header does not match the tool name")
    if version not in MODERN_VERSIONS:
        raise _unsupported(str(version))
    return str(version)


# --- shared --------------------------------------------------------------------------------------
def _parse(method: str, version: str, params: dict[str, Any] | None, status: int) -> Any:
    """The request as the SDK's model for this method and version; INVALID_PARAMS when it does not fit."""
    try:
        return parse_client_request(method, version, params)
    except ValidationError as error:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5])
        raise ProtocolError(jsonrpc.INVALID_PARAMS, f"Invalid params for {method}: {where}", status) from None


def _tools_method(parsed: Any, request: Request, principal: Principal, tools: Sequence[Tool],
                  status: int) -> dict[str, Any]:
    if isinstance(parsed, mcp_types.ListToolsRequest):
        # The tools this key may call (a call of another one is a scope error the model can read).
        return {"tools": [tool.definition() for tool in tools if tool.allowed(principal)]}
    assert isinstance(parsed, mcp_types.CallToolRequest)
    name = parsed.params.name
    tool = next((tool for tool in tools if tool.name == name), None)
    if tool is None:
        raise ProtocolError(jsonrpc.INVALID_PARAMS, f"Unknown tool: {name[:100]}", status)
    bind(mcp_tool=tool.name)
    outcome = call(tool, request, principal, parsed.params.arguments or {})
    if outcome.is_error:
        bind(mcp_tool_problem=str(outcome.body.get("type", "")).rsplit("/", 1)[-1])
        content = [{"type": "text", "text": outcome.text}]
    else:
        # The short text first; the body as JSON text too, for clients that read no structuredContent.
        content = [{"type": "text", "text": outcome.text}, {"type": "text", "text": dumps(outcome.body)}]
    return {"content": content, "structuredContent": outcome.body, "isError": outcome.is_error}


def _unsupported(requested: str) -> ProtocolError:
    return ProtocolError(jsonrpc.UNSUPPORTED_PROTOCOL_VERSION, f"Unsupported protocol version: {requested[:64]}",
                         400, {"supported": list(SUPPORTED_VERSIONS), "requested": requested[:64]})


def _mismatch(message: str) -> ProtocolError:
    return ProtocolError(jsonrpc.HEADER_MISMATCH, f"Header mismatch: {message}", 400)


def _header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value if isinstance(value, str) else None


def _decoded(value: str | None) -> str | None:
    """A header value the SDK may have sent base64-wrapped (``=?base64?...?=``) because it is not plain ASCII."""
    if value is None or not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    try:
        return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _answer(message: jsonrpc.JSONRPCResponse | jsonrpc.JSONRPCError, status: int) -> Response:
    body = message.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(message, jsonrpc.JSONRPCError) and message.id is None:
        body["id"] = None  # JSON-RPC: an error whose request id is unknown carries "id": null
    return Response(body=body_text(body), status_code=status, headers={"Content-Type": "application/json"})


def _error(request_id: Any, error: ProtocolError) -> Response:
    bind(mcp_error_code=error.code)
    return _answer(jsonrpc.JSONRPCError(jsonrpc="2.0", id=request_id,
                                        error=jsonrpc.ErrorData(code=error.code, message=error.message,
                                                                data=error.data)), error.status)
