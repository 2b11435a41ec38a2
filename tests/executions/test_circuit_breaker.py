"""The circuit breaker (README, "Guardrails"): it opens by itself when an execution finishes and half or more of
the workflow's last 10 finished executions failed (at least 5), recorded in the workflow's history and notified in
the same transaction; it refuses every start (a new one, and an approved one), shows on reads and search results,
and stays open until an operator closes it; then only executions finished since count."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.notifications import GUARD_CIRCUIT_OPENED
from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.database import table_rows
from tests.support.executions import (
    PLAYBOOKS,
    READ,
    REQUESTER,
    create_workflow,
    decide,
    move,
    problem_type,
    release,
    require_approval,
    start,
    started,
)
from tests.support.guards import WORKFLOW, finish, history, run, target, workflow_read
from tests.support.keys import key_id_of
from tests.support.notifications import outbox

CLOSE = {"circuit": "closed", "reason": "the registry outage is over"}


def fail_on_new_targets(client: ApiClient, count: int, first: int = 0) -> list[str]:
    return [run(client, target(f"svc-{first + index}"), "failed") for index in range(count)]


def close(client: ApiClient, body: dict[str, Any] = CLOSE) -> Any:
    return client.patch(f"{PLAYBOOKS}/{WORKFLOW}", body, scopes=("catalog:write",))


@pytest.mark.parametrize(("outcomes", "opens"), [
    (["failed"] * 4, False),  # too few finished to say anything
    (["failed"] * 5, True),
    (["succeeded"] * 3 + ["failed"] * 2, False),  # 2 of 5
    (["succeeded"] * 3 + ["failed"] * 3, True),  # 3 of 6: half
    (["failed"] * 3 + ["succeeded"] * 2, True),  # a success can be the finish that trips it: 3 of 5
    (["succeeded"] * 6 + ["failed"] * 4, False),  # 4 of 10
    (["succeeded"] * 6 + ["failed"] * 5, True),  # 5 of the last 10 (of 11 finished: the first is out of the window)
])
def test_it_opens_when_half_or_more_of_the_last_ten_failed(client: ApiClient, outcomes: list[str],
                                                           opens: bool) -> None:
    create_workflow(client)
    for index, outcome in enumerate(outcomes):
        run(client, target(f"svc-{index}"), outcome)
    assert workflow_read(client)["circuit"]["state"] == ("open" if opens else "closed")


def test_it_opens_refuses_notifies_and_closes_only_by_an_operator(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    fail_on_new_targets(client, 4)
    assert workflow_read(client)["circuit"]["state"] == "closed"
    assert not [event for event in outbox(db) if event["event_type"] == GUARD_CIRCUIT_OPENED]
    tripping = fail_on_new_targets(client, 1, first=4)[0]

    # Opened, by the catalog, in the workflow's history ...
    circuit = workflow_read(client)["circuit"]
    assert circuit["state"] == "open" and circuit["changed_by"] == "system" and circuit["changed_at"]
    assert circuit["reason"] == f"5 of its last 5 finished executions failed; the last to finish, {tripping}, failed"
    [record] = [r for r in history(client) if r["field"] == "circuit"]
    assert (record["from"], record["to"], record["changed_by"], record["reason"]) == (
        "closed", "open", "system", circuit["reason"])
    # ... notified in the same transaction as the failure that tripped it ...
    [opened] = [event for event in outbox(db) if event["event_type"] == GUARD_CIRCUIT_OPENED]
    assert opened["data"]["workflow_id"] == WORKFLOW and (opened["data"]["failed"], opened["data"]["finished"]) == (5, 5)
    assert opened["data"]["actions"][0]["body"] == {"circuit": "closed", "reason": "<why>"}
    with db.reading() as cur:
        cur.execute("SELECT finished_at FROM executions WHERE execution_id = %s", (tripping,))
        assert opened["occurred_at"] == cur.fetchone()["finished_at"]
    # ... and every start is refused, on any target, until an operator acts.
    refused = start(client, target=target("fresh"))
    assert refused.status == 409 and problem_type(refused) == "circuit-open", refused
    assert refused.json["retry_after"] is None
    assert "an operator must" in refused.json["detail"] and '{"circuit": "closed"}' in refused.json["detail"]

    closed = close(client)
    assert closed.status == 200 and closed.json["circuit"]["state"] == "closed"
    who = key_id_of({"Authorization": f"Bearer {client.token('catalog:write')}"})
    assert closed.json["circuit"]["changed_by"] == who and closed.json["circuit"]["reason"] == CLOSE["reason"]
    assert [(r["from"], r["to"], r["changed_by"]) for r in history(client) if r["field"] == "circuit"] == [
        ("closed", "open", "system"), ("open", "closed", who)]
    # Closing a closed circuit changes nothing.
    before = table_rows(db)
    assert close(client).status == 200
    assert table_rows(db) == before

    # Only executions finished since the close count: four more failures do not open it again, a fifth does.
    fail_on_new_targets(client, 4, first=10)
    assert workflow_read(client)["circuit"]["state"] == "closed"
    fail_on_new_targets(client, 1, first=14)
    assert workflow_read(client)["circuit"]["state"] == "open"
    assert len([e for e in outbox(db) if e["event_type"] == GUARD_CIRCUIT_OPENED]) == 2


def test_it_opens_once_however_many_fail_while_it_is_open(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    running = [started(client, target=target(f"svc-{index}"))["execution_id"] for index in range(8)]
    for execution_id in running:  # they all started before it opened; they finish after
        finish(client, execution_id, "failed")
    assert len([r for r in history(client) if r["field"] == "circuit"]) == 1
    assert len([e for e in outbox(db) if e["event_type"] == GUARD_CIRCUIT_OPENED]) == 1


def test_a_circuit_opened_meanwhile_refuses_the_start_of_an_approved_execution(client: ApiClient) -> None:
    create_workflow(client)
    assert require_approval(client).status == 200
    waiting = start(client, target=target("checkout"), scopes=REQUESTER).json["execution_id"]
    assert decide(client, waiting, "approve").status == 200
    assert require_approval(client, required=False).status == 200
    fail_on_new_targets(client, 5)

    refused = release(client, waiting)
    assert refused.status == 409 and problem_type(refused) == "circuit-open", refused
    assert client.get(f"/api/v1/executions/{waiting}", scopes=READ).json["status"] == "approved"  # untouched
    assert close(client).status == 200
    assert release(client, waiting).status == 200


def test_an_approved_execution_does_not_count_against_itself(client: ApiClient) -> None:
    create_workflow(client)
    assert require_approval(client).status == 200
    assert client.patch(f"{PLAYBOOKS}/{WORKFLOW}", {"guards": {"max_concurrent": 1, "max_executions_per_hour": 1},
                                                    "reason": "one at a time"}, scopes=("catalog:write",)).status == 200
    waiting = start(client, target=target("checkout"), scopes=REQUESTER).json["execution_id"]
    assert problem_type(start(client, target=target("cart"), scopes=REQUESTER)) == "rate-limited"  # it counts ...
    assert decide(client, waiting, "approve").status == 200
    started_now = release(client, waiting)  # ... but not against its own start
    assert started_now.status == 200 and started_now.json["status"] == "pending", started_now
    assert move(client, waiting, "running").status == 200


def test_search_results_and_reads_say_when_the_circuit_is_open(client: ApiClient) -> None:
    create_workflow(client)
    create_workflow(client, "restart-checkout")
    query = {"query": "deployment rollout stuck", "labels": {"signal_type": "DeploymentRolloutStuck"}}

    def circuits() -> dict[str, str]:
        response = client.post(f"{PLAYBOOKS}/search", query, scopes=READ)
        assert response.status == 200, response
        return {result["workflow_id"]: result["circuit"] for result in response.json["results"]}

    assert circuits() == {WORKFLOW: "closed", "restart-checkout": "closed"}
    before = [r["workflow_id"] for r in client.post(f"{PLAYBOOKS}/search", query, scopes=READ).json["results"]]
    fail_on_new_targets(client, 5)
    assert circuits() == {WORKFLOW: "open", "restart-checkout": "closed"}
    after = [r["workflow_id"] for r in client.post(f"{PLAYBOOKS}/search", query, scopes=READ).json["results"]]
    assert after == before  # ranking never reads it
    assert workflow_read(client)["circuit"]["state"] == "open"
