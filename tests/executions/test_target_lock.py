"""One active remediation per target, decided by the database: under real concurrency exactly one wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import tekton
from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    READ,
    STUCK,
    WRITE,
    count_executions,
    create_workflow,
    http_request,
    incident,
    move,
    problem_type,
    start,
    started,
    stuck_parameters,
)

CHECKOUT = {"kind": "Deployment", "namespace": "shop", "name": "checkout"}


def test_ten_concurrent_requests_for_one_target_give_one_201_and_nine_409(client: ApiClient, db: Any,
                                                                          server: str) -> None:
    create_workflow(client)
    token = client.token(*WRITE)
    body = {"workflow_id": "stuck-rollout-restart", "incident": incident(), "target": CHECKOUT,
            "parameters": stuck_parameters()}
    ready = threading.Barrier(10)

    def one(_: int) -> tuple[int, dict[str, Any]]:
        ready.wait(timeout=30)  # all ten in flight together
        return http_request("POST", server + EXECUTIONS, token, body)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(one, range(10)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 9, answers
    [winner] = [answer for status, answer in answers if status == 201]
    for status, answer in answers:
        if status == 409:
            assert answer["type"].endswith("/target-busy")
            assert answer["active_execution_id"] == winner["execution_id"]
            assert "Deployment shop/checkout" in answer["detail"]
    assert count_executions(db) == (1, 1)


def test_the_target_is_free_again_once_the_execution_finishes(client: ApiClient) -> None:
    create_workflow(client)
    first = started(client, target=CHECKOUT)["execution_id"]
    busy = start(client, target=CHECKOUT)
    assert busy.status == 409 and problem_type(busy) == "target-busy"
    assert busy.json["active_execution_id"] == first
    assert move(client, first, "running").status == 200
    assert start(client, target=CHECKOUT).status == 409  # running still holds it
    assert move(client, first, "succeeded").status == 200
    # Free for any workflow; the same one meets its cooldown there now (a guard, not the lock).
    create_workflow(client, "restart-checkout")
    second = started(client, workflow_id="restart-checkout", target=CHECKOUT)
    assert second["target"] == {**CHECKOUT, "cluster": "default"} and second["execution_id"] != first
    assert move(client, second["execution_id"], "failed").status == 200
    again = start(client, target=CHECKOUT)
    assert again.status == 409 and problem_type(again) == "recently-remediated", again


@pytest.mark.parametrize(("other", "status"), [
    # A kind is UpperCamelCase, as Kubernetes writes it: another spelling is refused, never a second lock.
    ({"kind": "deployment", "namespace": "shop", "name": "checkout"}, 400),
    ({"kind": "Deployment", "namespace": "shop\n", "name": "checkout"}, 400),  # no control characters
    ({"kind": "Deployment", "namespace": "shop", "name": "checkout-v2"}, 201),
    ({"kind": "Deployment", "namespace": "payments", "name": "checkout"}, 201),
    ({"kind": "StatefulSet", "namespace": "shop", "name": "checkout"}, 201),
    ({"kind": "Deployment", "name": "checkout"}, 201),  # cluster-scoped is another resource
    ({"kind": "Deployment", "namespace": "shop", "name": "checkout", "cluster": "default"}, 409),  # the default
    ({"kind": "Deployment", "namespace": "shop", "name": "checkout", "cluster": "prod-eu"}, 201),  # another cluster
])
def test_what_counts_as_the_same_target(client: ApiClient, other: dict[str, str], status: int) -> None:
    create_workflow(client)
    started(client, target=CHECKOUT)
    assert start(client, target=other).status == status


def test_a_cluster_scoped_target_is_locked_too(client: ApiClient) -> None:
    create_workflow(client, workflow_id="node-fix", labels={**STUCK["labels"], "component": "*"})
    node = {"kind": "Node", "name": "ip-10-0-3-17.eu-west-1.compute.internal"}
    body = started(client, workflow_id="node-fix", target=node)
    assert body["target"] == {**node, "cluster": "default"}
    assert start(client, workflow_id="node-fix", target=node).json["active_execution_id"] == body["execution_id"]


def test_the_pipeline_run_carries_the_target_and_the_execution_id(client: ApiClient) -> None:
    create_workflow(client)
    long_name = "checkout-" + "a" * 80 + ".canary"  # a valid name longer than a label value may be
    body = started(client, target={"kind": "Deployment", "namespace": "shop", "name": long_name})
    assert tekton.problems(body["pipeline_run"]) == []  # label values Kubernetes accepts
    metadata = body["pipeline_run"]["metadata"]
    labels, annotations = metadata["labels"], metadata["annotations"]
    assert labels["kubernaut.ai/execution-id"] == annotations["kubernaut.ai/execution-id"] == body["execution_id"]
    assert (labels["kubernaut.ai/target-kind"], labels["kubernaut.ai/target-namespace"]) == ("Deployment", "shop")
    assert (annotations["kubernaut.ai/target-kind"], annotations["kubernaut.ai/target-namespace"],
            annotations["kubernaut.ai/target-name"]) == ("Deployment", "shop", long_name)
    assert len(labels["kubernaut.ai/target-name"]) <= 63 and long_name.startswith(labels["kubernaut.ai/target-name"])
    record = client.get(f"{EXECUTIONS}/{body['execution_id']}", scopes=READ).json
    assert record["target"] == {"kind": "Deployment", "namespace": "shop", "name": long_name, "cluster": "default"}


@pytest.mark.parametrize(("target", "path"), [
    (None, "$.target"),
    ("Deployment/shop/checkout", "$.target"),
    ({"kind": "Deployment"}, "$.target.name"),
    ({"name": "checkout"}, "$.target.kind"),
    ({"kind": "Deployment", "name": "Checkout"}, "$.target.name"),
    ({"kind": "Deployment", "name": "checkout", "namespace": "Shop_1"}, "$.target.namespace"),
    ({"kind": "Deploy ment", "name": "checkout"}, "$.target.kind"),
    ({"kind": "Deployment", "name": "c" * 254}, "$.target.name"),
    ({"kind": "Deployment", "name": "checkout", "uid": "x"}, "$.target.uid"),
    ({"kind": "Deployment", "name": "checkout", "cluster": "Prod_EU"}, "$.target.cluster"),
    ({"kind": "Deployment", "name": "checkout", "cluster": ""}, "$.target.cluster"),
    ({"kind": "Deployment", "name": "checkout", "cluster": "c" * 64}, "$.target.cluster"),
])
def test_a_missing_or_malformed_target_is_400_and_stores_nothing(client: ApiClient, db: Any, target: Any,
                                                                 path: str) -> None:
    create_workflow(client)
    body = {"workflow_id": "stuck-rollout-restart", "incident": incident(), "parameters": stuck_parameters()}
    if target is not None:
        body["target"] = target
    response = client.post(EXECUTIONS, body, scopes=WRITE)
    assert response.status == 400 and problem_type(response) == "validation-error"
    assert path in {error["path"] for error in response.json["errors"]}
    assert count_executions(db) == (0, 0)


def test_the_database_refuses_a_second_active_execution_whatever_writes_it(client: ApiClient, db: Any) -> None:
    """The unique index holds even for a writer that skips the service (a bug, a manual fix)."""
    import psycopg2

    create_workflow(client)
    first = started(client, target=CHECKOUT)["execution_id"]
    with pytest.raises(psycopg2.errors.UniqueViolation), db.transaction() as cur:
        cur.execute("""INSERT INTO executions (execution_id, workflow_id, version, container_image, parameters,
                              incident, incident_id, pipeline_run_name, status, created_by, target_kind,
                              target_namespace, target_name)
                       SELECT gen_random_uuid(), workflow_id, version, container_image, parameters, incident,
                              incident_id, 'x', 'pending', 'manual', 'DEPLOYMENT', target_namespace, target_name
                       FROM executions WHERE execution_id = %s""", (first,))
