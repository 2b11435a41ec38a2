"""The guard ineffective-chain (README, "Guardrails"): a workflow judged ineffective on a target for a signal twice
among its executions there that finished in the last 24 hours is refused there (409, retry_after until the older one
is a day old, nothing written); other targets, other signals, other workflows run; over MCP the refusal reads as the
other guards' do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.database import table_rows
from tests.support.effectiveness import effectiveness, firing, ineffective_run, now, resolve, succeed
from tests.support.executions import (
    WRITE,
    create_workflow,
    incident,
    move,
    problem_type,
    start,
    started,
    stuck_parameters,
)
from tests.support.guards import WORKFLOW, backdate, target
from tests.support.mcp import execution, legacy, modern, tool_result

CHECKOUT = target("checkout")
DAY = 24 * 3600
ANY_SIGNAL = {"signal_type": "*", "severity": "*", "environment": "*", "component": "deployment"}


def refused_unchanged(client: ApiClient, db: Any, **body: Any) -> Any:
    """A start on CHECKOUT refused by the chain, with every table the same before and after."""
    client.token(*WRITE)  # its key exists before the rows are compared
    before = table_rows(db)
    response = start(client, target=CHECKOUT, **body)
    assert response.status == 409 and problem_type(response) == "ineffective-chain", response
    assert table_rows(db) == before
    return response


def test_twice_ineffective_on_a_target_refuses_the_next_start_there_until_the_older_is_a_day_old(
        client: ApiClient, db: Any) -> None:
    create_workflow(client)
    older, newer = (ineffective_run(client, CHECKOUT) for _ in range(2))
    response = refused_unchanged(client, db)
    problem = response.json
    assert DAY - 11 * 60 - 30 <= problem["retry_after"] <= DAY - 11 * 60  # the older finished 11 minutes ago
    assert response.headers["Retry-After"] == str(problem["retry_after"])
    assert f"executions {newer}, {older}" in problem["detail"]
    assert "for signal DeploymentRolloutStuck" in problem["detail"]
    dry = client.post("/api/v1/executions", {"workflow_id": WORKFLOW, "incident": incident(), "target": CHECKOUT,
                                             "parameters": stuck_parameters(), "dry_run": True}, scopes=WRITE).json
    assert dry["outcome"] == "blocked" and dry["guards"]["ineffective-chain"] == "blocked"
    assert [p["type"].rsplit("/", 1)[-1] for p in dry["blocked_by"]] == ["ineffective-chain"]

    # Elsewhere, or another workflow here, it runs.
    assert start(client, target=target("elsewhere")).status == 201
    create_workflow(client, "restart-anything", labels=ANY_SIGNAL)
    other = started(client, workflow_id="restart-anything", target=CHECKOUT)["execution_id"]
    assert move(client, other, "failed").status == 200  # ends, freeing the target

    backdate(db, older, "finished_at", DAY - 3600)  # the older one finished 23 hours ago: an hour to wait
    assert 3590 <= refused_unchanged(client, db).json["retry_after"] <= 3600
    backdate(db, older, "finished_at", DAY + 60)  # a day old: no longer counted
    assert start(client, target=CHECKOUT).status == 201


def test_the_chain_is_per_signal_and_counts_the_days_verdicts_not_a_streak(client: ApiClient, db: Any) -> None:
    create_workflow(client, "restart-anything", labels=ANY_SIGNAL)
    ineffective_run(client, CHECKOUT, "restart-anything")
    since = now() - timedelta(hours=1)
    firing(client, pod="checkout-pod", since=since)
    fixed = str(started(client, workflow_id="restart-anything", target=CHECKOUT)["execution_id"])
    finished = now() - timedelta(minutes=11)
    resolve(client, since, finished, pod="checkout-pod")
    succeed(client, fixed, finished)
    assert effectiveness(client, fixed)["verdict"] == "effective"
    ineffective_run(client, CHECKOUT, "restart-anything")  # an effective run between does not break the chain
    assert problem_type(start(client, "restart-anything", target=CHECKOUT)) == "ineffective-chain"
    shouting = incident(signal_type="DEPLOYMENTROLLOUTSTUCK")  # the same signal: compared case-insensitively
    assert problem_type(start(client, "restart-anything", target=CHECKOUT, incident=shouting)) == "ineffective-chain"
    crash = incident(signal_type="KubePodCrashLooping")  # another signal runs
    assert start(client, "restart-anything", target=CHECKOUT, incident=crash).status == 201


@pytest.mark.parametrize("send", [legacy, modern])
def test_over_mcp_the_refusal_says_why_and_when(client: ApiClient, db: Any, send: Any) -> None:
    create_workflow(client)
    for _ in range(2):
        ineffective_run(client, CHECKOUT)
    result = tool_result(send(client, "tools/call", {"name": "start_execution", "arguments": execution(
        WORKFLOW, stuck_parameters(), incident(), CHECKOUT)}, scopes=("executions:write",)))
    assert result["isError"] is True and result["structuredContent"]["type"].endswith("/ineffective-chain")
    text = result["content"][0]["text"]
    retry = result["structuredContent"]["retry_after"]
    assert "Guard ineffective-chain" in text and "escalate to a human" in text
    assert f"Do not retry before {retry} seconds have passed." in text
