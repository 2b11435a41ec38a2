"""What a model learns of the guards over MCP (README, "Guardrails"): start_execution's refusals say which guard,
when to retry and whom to ask; dry_run answers what would happen; search results say when a breaker is open."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.catalog import create
from tests.support.guards import finish
from tests.support.mcp import execution, legacy, modern, tool_result

WORKFLOW = "oomkill-increase-memory"
GOOD = {"TARGET_NAMESPACE": "payments", "TARGET_DEPLOYMENT": "payments-api", "MEMORY_LIMIT": "512Mi"}
INCIDENT = {"id": "INC-7", "signal_type": "OOMKilled", "severity": "critical"}
API = {"kind": "Deployment", "namespace": "payments", "name": "payments-api"}
ERAS = [pytest.param(legacy, id="handshake"), pytest.param(modern, id="2026-07-28")]


def call(client: ApiClient, send: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return tool_result(send(client, "tools/call", {"name": name, "arguments": arguments}))


@pytest.mark.parametrize("send", ERAS)
def test_a_refusal_says_which_guard_when_to_retry_and_whom_to_ask(client: ApiClient, send: Any) -> None:
    create(client, "1.0.0")
    first = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT, API))
    finish(client, first["structuredContent"]["execution_id"], "succeeded")

    again = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT, API))
    assert again["isError"] is True and again["structuredContent"]["type"].endswith("/recently-remediated")
    text = again["content"][0]["text"]
    assert "Guard recently-remediated" in text and "Deployment payments/payments-api" in text
    retry = again["structuredContent"]["retry_after"]
    assert 290 <= retry <= 300 and f"Do not retry before {retry} seconds" in text
    assert "an operator may change cooldown_seconds" in text

    for _ in range(4):  # with the first success, 4 of 5 finished failed: the breaker opens
        started = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT))["structuredContent"]
        finish(client, started["execution_id"], "failed")
    tripped = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT))
    assert tripped["isError"] is True and tripped["structuredContent"]["type"].endswith("/circuit-open")
    text = tripped["content"][0]["text"]
    assert "an operator must find out why it fails and close the circuit" in text
    assert "Retrying does not help: ask an operator." in text and "Escalate to a human" in text


@pytest.mark.parametrize("send", ERAS)
def test_start_execution_takes_dry_run(client: ApiClient, send: Any) -> None:
    create(client, "1.0.0")
    dry = call(client, send, "start_execution", {**execution(WORKFLOW, GOOD, INCIDENT, API), "dry_run": True})
    assert dry["isError"] is False and dry["structuredContent"]["outcome"] == "would-run"
    assert dry["structuredContent"]["pipeline_run"]["kind"] == "PipelineRun"
    assert "Dry run" in dry["content"][0]["text"] and "nothing recorded" in dry["content"][0]["text"]
    assert client.get("/api/v1/executions").json["items"] == []

    first = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT, API))["structuredContent"]
    blocked = call(client, send, "start_execution", {**execution(WORKFLOW, GOOD, INCIDENT, API), "dry_run": True})
    assert blocked["isError"] is False and blocked["structuredContent"]["outcome"] == "blocked"
    text = blocked["content"][0]["text"]
    assert "it would be refused" in text and first["execution_id"] in text  # target-busy names the holder


@pytest.mark.parametrize("send", ERAS)
def test_search_results_say_when_a_breaker_is_open(client: ApiClient, send: Any) -> None:
    create(client, "1.0.0")
    search = {"query": "payments-api OOMKilled", "labels": {"signal_type": "OOMKilled"}}
    found = call(client, send, "search_workflows", search)
    assert found["structuredContent"]["results"][0]["circuit"] == "closed"
    assert "Circuit breaker open" not in found["content"][0]["text"]
    for _ in range(5):
        started = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT))["structuredContent"]
        finish(client, started["execution_id"], "failed")
    found = call(client, send, "search_workflows", search)
    assert found["structuredContent"]["results"][0]["circuit"] == "open"
    assert f"Circuit breaker open (start_execution refuses it until an operator closes it): {WORKFLOW}." in \
        found["content"][0]["text"]
    workflow = call(client, send, "get_workflow", {"workflow_id": WORKFLOW})
    assert workflow["structuredContent"]["circuit"]["state"] == "open"
    assert "circuit breaker is open" in workflow["content"][0]["text"]
