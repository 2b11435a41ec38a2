"""POST /mcp speaks MCP's Streamable HTTP as the spec says, in both eras: the initialize handshake (2025-06-18,
2025-11-25) and the 2026-07-28 per-request envelope; protocol errors are JSON-RPC errors with the spec's HTTP
statuses; the same API keys apply. Raw JSON-RPC through Chalice's API Gateway emulation (real authorizer)."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.api import ApiClient, Result
from tests.support.catalog import problem_type
from tests.support.mcp import ACCEPT, AGENT, MCP, MODERN, legacy, meta, modern

ALL_VERSIONS = ["2025-06-18", "2025-11-25", "2026-07-28"]


def error_of(response: object, status: int, code: int) -> dict:
    assert response.status == status, response  # type: ignore[attr-defined]
    assert response.content_type.startswith("application/json"), response  # type: ignore[attr-defined]
    body = response.json  # type: ignore[attr-defined]
    assert body["jsonrpc"] == "2.0" and body["error"]["code"] == code, body
    return body


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_initialize_agrees_on_a_version_it_serves(client: ApiClient, version: str) -> None:
    response = legacy(client, "initialize", {"protocolVersion": version, "capabilities": {},
                                             "clientInfo": {"name": "agent", "version": "1"}}, version=None)
    assert response.status == 200, response
    result = response.json["result"]
    assert result["protocolVersion"] == version
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["serverInfo"]["name"] == "workflow-catalog"
    assert "confident is false" in result["instructions"]


def test_initialize_with_an_older_version_is_offered_the_latest_handshake_version(client: ApiClient) -> None:
    response = legacy(client, "initialize", {"protocolVersion": "2024-11-05", "capabilities": {},
                                             "clientInfo": {"name": "agent", "version": "1"}}, version=None)
    assert response.json["result"]["protocolVersion"] == "2025-11-25"


def test_initialize_with_bad_params_is_invalid_params(client: ApiClient) -> None:
    body = error_of(legacy(client, "initialize", {"protocolVersion": 5}, version=None), 200, -32602)
    assert body["id"] == 1 and "initialize" in body["error"]["message"]


def test_ping_answers_in_the_handshake_era(client: ApiClient) -> None:
    response = legacy(client, "ping", id="ping-1")
    assert (response.status, response.json) == (200, {"jsonrpc": "2.0", "id": "ping-1", "result": {}})


def test_server_discover_describes_the_2026_era(client: ApiClient) -> None:
    response = modern(client, "server/discover")
    assert response.status == 200, response
    result = response.json["result"]
    assert result["supportedVersions"] == [MODERN]
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert (result["resultType"], result["cacheScope"], result["ttlMs"]) == ("complete", "private", 0)
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "workflow-catalog"


@pytest.mark.parametrize("send", [
    lambda c: legacy(c, "notifications/initialized", id=None),
    lambda c: legacy(c, "notifications/initialized", id=None, version=None),
    lambda c: c.post(MCP, {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
                     scopes=AGENT, headers={"Accept": ACCEPT, "MCP-Protocol-Version": MODERN}),
])
def test_notifications_are_accepted_with_202_and_no_body(client: ApiClient, send) -> None:  # type: ignore[no-untyped-def]
    response = send(client)
    assert (response.status, response.body) == (202, b""), response


def test_unknown_methods(client: ApiClient) -> None:
    # The handshake era answers on 200 (a 404 there tells a client its session is gone); 2026-07-28 says 404.
    assert "foo/bar" in error_of(legacy(client, "foo/bar"), 200, -32601)["error"]["message"]
    error_of(legacy(client, "server/discover"), 200, -32601)  # a 2026-07-28 method
    error_of(modern(client, "foo/bar"), 404, -32601)
    error_of(modern(client, "ping"), 404, -32601)  # removed in 2026-07-28
    error_of(modern(client, "initialize"), 404, -32601)


@pytest.mark.parametrize(("body", "code"), [
    (b'{"jsonrpc": "2.0", "id": 1, "method": ', -32700),  # not JSON
    (b'{"jsonrpc": "2.0", "id": 1, "id": 2, "method": "ping"}', -32700),  # a key twice
    (b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', -32600),  # a batch
    (b'{"id": 1, "method": "ping"}', -32600),  # no jsonrpc
    (b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}', -32600),
    (b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}', -32600),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}', -32600),
    (b'{"jsonrpc": "2.0", "id": 1, "result": {}}', -32600),  # a response: this server never asks anything
])
def test_malformed_json_rpc_is_a_400_json_rpc_error_with_a_null_id(client: ApiClient, body: bytes, code: int) -> None:
    response = client.request("POST", MCP, scopes=AGENT, body=body,
                              headers={"Content-Type": "application/json", "Accept": ACCEPT})
    assert error_of(response, 400, code)["id"] is None


def test_an_unsupported_protocol_version_is_a_400_listing_the_supported_ones(client: ApiClient) -> None:
    for response, requested in ((legacy(client, "tools/list", version="2024-11-05"), "2024-11-05"),
                                (modern(client, "tools/list", version="2099-01-01"), "2099-01-01")):
        body = error_of(response, 400, -32022)
        assert body["error"]["data"] == {"supported": ALL_VERSIONS, "requested": requested}
    notification = client.post(MCP, {"jsonrpc": "2.0", "method": "notifications/cancelled"}, scopes=AGENT,
                               headers={"Accept": ACCEPT, "MCP-Protocol-Version": "2099-01-01"})
    error_of(notification, 400, -32022)


def test_the_2026_envelope_and_its_routing_headers_must_agree(client: ApiClient) -> None:
    bare = client.post(MCP, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, scopes=AGENT,
                       headers={"Accept": ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"})
    assert "_meta" in error_of(bare, 400, -32602)["error"]["message"]
    error_of(modern(client, "tools/list", headers={"Mcp-Method": "server/discover"}), 400, -32020)
    mismatch = client.post(MCP, {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta("2099-01-01")}},
                           scopes=AGENT, headers={"Accept": ACCEPT, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"})
    error_of(mismatch, 400, -32020)
    wrong_tool = modern(client, "tools/call", {"name": "get_workflow", "arguments": {"workflow_id": "x"}},
                        headers={"Mcp-Name": "search_workflows"})
    error_of(wrong_tool, 400, -32020)


def test_invalid_params_and_unknown_tools(client: ApiClient) -> None:
    error_of(legacy(client, "tools/call", {"arguments": {}}), 200, -32602)  # no name
    error_of(modern(client, "tools/call", {"name": "get_workflow", "arguments": 5}), 400, -32602)
    assert "no_such_tool" in error_of(legacy(client, "tools/call", {"name": "no_such_tool"}), 200, -32602)["error"]["message"]
    error_of(modern(client, "tools/call", {"name": "no_such_tool"}), 400, -32602)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_no_sse_stream_and_no_session_405(client: ApiClient, method: str) -> None:
    response = client.request(method, MCP, scopes=AGENT, headers={"Accept": "text/event-stream"})
    assert (response.status, problem_type(response)) == (405, "method-not-allowed")
    assert {k.lower(): v for k, v in response.headers.items()}["allow"] == "POST"


def test_the_api_keys_apply(client: ApiClient) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert client.request("POST", MCP, ping, scopes=None, headers={"Accept": ACCEPT}).status == 401
    unknown = client.request("POST", MCP, ping, scopes=None,
                             headers={"Accept": ACCEPT, "Authorization": "Bearer rwc_not_a_key"})
    assert (unknown.status, problem_type(unknown)) == (401, "unauthorized")
    assert client.request("GET", MCP, scopes=None).status == 401
    # Any valid key connects; what it may call is decided per tool.
    assert legacy(client, "ping", scopes=("registrations:write",)).status == 200


def challenge(response: Result) -> dict[str, str]:
    """The RFC 6750 parameters of a 401's WWW-Authenticate header (scheme Bearer)."""
    header = {k.lower(): v for k, v in response.headers.items()}["www-authenticate"]
    scheme, _, rest = header.partition(" ")
    assert scheme == "Bearer"
    return dict(re.findall(r'(\w+)="([^"]*)"', rest))


@pytest.mark.parametrize("path", [MCP, "/api/v1/playbooks"])
def test_a_401_says_why_in_www_authenticate_so_clients_can_show_it(client: ApiClient, path: str) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    unknown = client.request("POST" if path == MCP else "GET", path, ping if path == MCP else None, scopes=None,
                             headers={"Accept": ACCEPT, "Authorization": "Bearer rwc_not_a_key"})
    said = challenge(unknown)
    assert said["error"] == "invalid_token" and said["error_description"] == unknown.json["detail"].replace("'", "")
    assert "not valid" in said["error_description"]
    missing = client.request("POST" if path == MCP else "GET", path, ping if path == MCP else None, scopes=None,
                             headers={"Accept": ACCEPT})
    assert (missing.status, challenge(missing)["error"]) == (401, "invalid_request")
    assert challenge(missing)["error_description"] == missing.json["detail"].replace("'", "")
    not_bearer = client.request("GET", "/api/v1/playbooks", scopes=None, headers={"Authorization": "Basic dXNlcg=="})
    assert (not_bearer.status, challenge(not_bearer)["error"]) == (401, "invalid_request")


def test_wrong_media_type_and_size_are_the_usual_problems(client: ApiClient) -> None:
    response = client.request("POST", MCP, scopes=AGENT, body=b"ping", headers={"Content-Type": "text/plain"})
    assert (response.status, problem_type(response)) == (415, "unsupported-media-type")
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "a" * (1024 * 1024)}}).encode()
    response = client.request("POST", MCP, scopes=AGENT, body=big, headers={"Content-Type": "application/json"})
    assert (response.status, problem_type(response)) == (413, "payload-too-large")


def test_the_openapi_document_describes_mcp_like_any_route(client: ApiClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    post = paths["/mcp"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/McpMessage"}
    assert post["security"] == [{"apiKey": []}]  # any valid key; tools check their own scopes
    assert set(post["responses"]) >= {"200", "202", "401"}
    assert set(paths["/mcp"]) == {"post", "get", "delete"} and "405" in paths["/mcp"]["get"]["responses"]
