"""Talking MCP to the catalog: raw JSON-RPC messages of either protocol era through the API test client,
and the official MCP Python SDK client against a served catalog."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.api import ApiClient, Result

MCP = "/mcp"
ACCEPT = "application/json, text/event-stream"
MODERN = "2026-07-28"
# A key that may use every tool.
AGENT = ("catalog:read", "executions:write", "recommendations:write")


_targets = itertools.count(1)


def execution(workflow_id: str, parameters: dict[str, Any], incident: dict[str, Any],
              target: dict[str, str] | None = None) -> dict[str, Any]:
    """start_execution's arguments (POST /api/v1/executions' body): the one place the MCP tests build them.
    Each execution acts on its own target unless one is given (one active execution per target)."""
    return {"workflow_id": workflow_id, "parameters": parameters, "incident": incident,
            "target": target or {"kind": "Deployment", "namespace": "shop", "name": f"mcp-{next(_targets)}"}}


def meta(version: str = MODERN) -> dict[str, Any]:
    return {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"}}


def legacy(client: ApiClient, method: str, params: dict[str, Any] | None = None, *, id: int | str | None = 1,
           version: str | None = "2025-11-25", scopes: tuple[str, ...] = AGENT) -> Result:
    """A handshake-era message (no id: a notification), with the MCP-Protocol-Version header when given."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        message["id"] = id
    if params is not None:
        message["params"] = params
    headers = {"Accept": ACCEPT, **({"MCP-Protocol-Version": version} if version else {})}
    return client.post(MCP, message, scopes=scopes, headers=headers)


def modern(client: ApiClient, method: str, params: dict[str, Any] | None = None, *, id: int | str = 1,
           version: str = MODERN, scopes: tuple[str, ...] = AGENT, headers: dict[str, str] | None = None) -> Result:
    """A 2026-07-28 request: the envelope in params._meta and the routing headers that mirror it."""
    params = {**(params or {}), "_meta": meta(version)}
    routing = {"Accept": ACCEPT, "MCP-Protocol-Version": version, "Mcp-Method": method}
    if method == "tools/call":
        routing["Mcp-Name"] = params["name"]
    message = {"jsonrpc": "2.0", "id": id, "method": method, "params": params}
    return client.post(MCP, message, scopes=scopes, headers={**routing, **(headers or {})})


def tool_result(response: Result) -> dict[str, Any]:
    """The CallToolResult of a successful JSON-RPC answer."""
    assert response.status == 200, response
    body = response.json
    assert "error" not in body, body
    return dict(body["result"])


@asynccontextmanager
async def sdk_client(base_url: str, token: str, mode: str) -> AsyncIterator[Client]:
    """The official SDK client on the catalog's /mcp, with a bearer key, in ``mode`` (legacy, 2026-07-28, auto)."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(f"{base_url}{MCP}", http_client=http), mode=mode) as client:
        yield client
