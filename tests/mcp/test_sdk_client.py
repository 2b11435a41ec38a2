"""Acceptance: the official MCP Python SDK client (``mcp`` on PyPI) drives /mcp of the real local server over
HTTP, in the handshake era (mode="legacy") and the per-request era (mode="2026-07-28"), and finds it by
server/discover (mode="auto"): list tools, search, get, validate with an undeclared parameter, start an
execution with a bad and then a good parameter set, get it, recommend. Each conversation is bounded in time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from chalice.config import Config

from tests.support.api import ApiClient
from tests.support.catalog import create
from tests.support.mcp import AGENT, execution, sdk_client
from tests.support.recommendations import recommendation

WORKFLOW = "oomkill-increase-memory"
INCIDENT = {"id": "INC-2041", "signal_type": "OOMKilled", "severity": "critical", "environment": "production",
            "component": "deployment"}
GOOD = {"TARGET_NAMESPACE": "payments", "TARGET_DEPLOYMENT": "payments-api", "MEMORY_LIMIT": "1Gi"}
SECONDS = 60


@pytest.fixture
def served(client: ApiClient) -> Iterator[tuple[str, str]]:
    """The local server (devserver/local_server.py) on a free port, a catalog with one workflow and an
    agent's key."""
    from app import app
    from devserver.local_server import LocalServer

    create(client, "1.0.0")
    with LocalServer(app, Config.create(chalice_stage="local"), "127.0.0.1", 0).running() as local:
        yield local.url, client.token(*AGENT)


async def conversation(url: str, token: str, mode: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    with anyio.fail_after(SECONDS):
        async with sdk_client(url, token, mode) as agent:
            seen["protocol_version"] = agent.protocol_version
            seen["tools"] = sorted(tool.name for tool in (await agent.list_tools()).tools)
            found = await agent.call_tool("search_workflows", {
                "query": "Container payments-api was OOMKilled repeatedly under normal load",
                "labels": {"signal_type": "OOMKilled", "environment": "production", "component": "deployment"}})
            seen["search"] = found.structured_content
            workflow = await agent.call_tool("get_workflow", {"workflow_id": WORKFLOW})
            seen["parameters"] = workflow.structured_content["parameters"] if workflow.structured_content else None
            checked = await agent.call_tool("validate_parameters", {
                "workflow_id": WORKFLOW, "version": "1.0.0", "parameters": {**GOOD, "ADMIN_PASSWORD": "hunter2"}})
            seen["validation"] = checked.structured_content
            bad = await agent.call_tool("start_execution", execution(WORKFLOW, {**GOOD, "MEMORY_LIMIT": "lots"}, INCIDENT))
            seen["bad"] = (bad.is_error, bad.structured_content, bad.content[0].text)
            good = await agent.call_tool("start_execution", execution(WORKFLOW, GOOD, INCIDENT))
            seen["good"] = (good.is_error, good.structured_content)
            assert good.structured_content is not None
            followed = await agent.call_tool("get_execution",
                                             {"execution_id": good.structured_content["execution_id"]})
            seen["execution"] = followed.structured_content
            recommended = await agent.call_tool("recommend_workflow", recommendation(
                "Restart the deployment with a heap dump when a memory leak causes OOMKills",
                incident_id=f"INC-{mode}"))
            seen["recommendation"] = (recommended.is_error, recommended.structured_content)
    return seen


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")])
def test_the_sdk_client_runs_the_agent_flow(served: tuple[str, str], client: ApiClient, mode: str,
                                            version: str) -> None:
    url, token = served
    seen = anyio.run(conversation, url, token, mode)
    assert seen["protocol_version"] == version
    assert seen["tools"] == sorted(["search_workflows", "get_workflow", "validate_parameters", "start_execution",
                                    "get_execution", "recommend_workflow"])
    assert seen["search"]["confident"] is True and seen["search"]["results"][0]["workflow_id"] == WORKFLOW
    assert set(seen["parameters"]["required"]) == {"TARGET_NAMESPACE", "TARGET_DEPLOYMENT", "MEMORY_LIMIT"}
    validation = seen["validation"]
    assert validation["valid"] is False
    assert [e["path"] for e in validation["errors"]] == ["$.parameters.ADMIN_PASSWORD"]
    is_error, problem, text = seen["bad"]
    assert is_error is True and problem["type"].endswith("/validation-error")
    assert "$.parameters.MEMORY_LIMIT" in text
    is_error, started = seen["good"]
    assert is_error is False and started["status"] == "pending"
    assert {"name": "MEMORY_LIMIT", "value": "1Gi"} in started["pipeline_run"]["spec"]["params"]
    assert seen["execution"]["execution_id"] == started["execution_id"]
    assert seen["execution"]["events"][0]["to"] == "pending"
    is_error, rec = seen["recommendation"]
    assert is_error is False and rec["status"] == "open"
    # the bad parameter set executed nothing: one execution, the good one
    assert [e["execution_id"] for e in client.get("/api/v1/executions").json["items"]] == [started["execution_id"]]


def test_auto_mode_finds_the_2026_era_by_server_discover(served: tuple[str, str]) -> None:
    url, token = served

    async def connect() -> tuple[str, list[str]]:
        with anyio.fail_after(SECONDS):
            async with sdk_client(url, token, "auto") as agent:
                return agent.protocol_version, [tool.name for tool in (await agent.list_tools()).tools]

    version, tools = anyio.run(connect)
    assert version == "2026-07-28" and "search_workflows" in tools
