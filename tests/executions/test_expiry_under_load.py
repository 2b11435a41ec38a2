"""Starts that meet waiting executions past their approval deadline: each start expires the one on its own target (so
the target is free) and leaves the others to reads and the maintenance round (services/executions.py says why: a
start expiring every overdue execution could deadlock with a start of another workflow)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    PLAYBOOKS,
    READ,
    REQUESTER,
    WRITE,
    create_workflow,
    http_request,
    overdue,
    require_approval,
    start,
)

TARGETS = 20


def target(index: int) -> dict[str, str]:
    return {"kind": "Deployment", "namespace": "shop", "name": f"svc-{index}"}


def overdue_on_every_target(client: ApiClient, db: Any) -> list[str]:
    create_workflow(client)
    assert require_approval(client).status == 200
    raised = client.patch(f"{PLAYBOOKS}/stuck-rollout-restart", {"guards": {"max_concurrent": TARGETS},
                                                                 "reason": "twenty waiting in this test"})
    assert raised.status == 200, raised
    waiting = []
    for index in range(TARGETS):
        response = start(client, target=target(index), scopes=REQUESTER)
        assert response.status == 201 and response.json["status"] == "awaiting_approval", response
        waiting.append(response.json["execution_id"])
    overdue(db, *waiting)
    return waiting


def test_concurrent_starts_of_two_workflows_on_targets_held_by_overdue_executions(
        client: ApiClient, db: Any, server: str) -> None:
    waiting = overdue_on_every_target(client, db)
    for workflow_id in ("restart-a", "restart-b"):
        create_workflow(client, workflow_id)
        raised = client.patch(f"{PLAYBOOKS}/{workflow_id}", {"guards": {"max_concurrent": TARGETS},
                                                             "reason": "twenty at once in this test"})
        assert raised.status == 200, raised
    token = client.token(*WRITE)

    def start_over_http(index: int) -> int:
        body = {"workflow_id": ("restart-a", "restart-b")[index % 2], "target": target(index),
                "parameters": {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": f"svc-{index}"},
                "incident": {"id": f"INC-{index}", "signal_type": "DeploymentRolloutStuck"}}
        return http_request("POST", f"{server}{EXECUTIONS}", token, body)[0]

    with ThreadPoolExecutor(TARGETS) as pool:
        statuses = list(pool.map(start_over_http, range(TARGETS)))
    assert statuses == [201] * TARGETS  # every target was freed by its own start; none waited on another's
    for execution_id in waiting:
        assert client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json["status"] == "expired"


def test_a_start_expires_the_overdue_execution_on_its_target_and_leaves_the_others_to_the_sweep(
        client: ApiClient, db: Any) -> None:
    first, second = overdue_on_every_target(client, db)[:2]
    create_workflow(client, "restart-a")
    body = {"workflow_id": "restart-a", "target": target(0), "incident": {"id": "INC-1",
            "signal_type": "DeploymentRolloutStuck"},
            "parameters": {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": "svc-0"}}
    assert client.post(EXECUTIONS, body, scopes=WRITE).status == 201
    with db.reading() as tx:
        tx.execute("SELECT execution_id::text AS id, status FROM executions WHERE execution_id = ANY(%s::uuid[])",
                   ([first, second],))
        statuses = {row["id"]: row["status"] for row in tx.fetchall()}
    assert statuses == {first: "expired", second: "awaiting_approval"}
