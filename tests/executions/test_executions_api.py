"""POST/PATCH/GET /api/v1/executions: the manifest, refusals, the lifecycle and the audit trail."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg2
import pytest

from tests.support import tekton
from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    PLAYBOOKS,
    READ,
    RUN,
    WRITE,
    count_executions,
    create_kitchen,
    create_workflow,
    incident,
    move,
    new_target,
    problem_type,
    set_guards,
    start,
    started,
    stuck_parameters,
)

TARGET = b'"target": {"kind": "Deployment", "namespace": "shop", "name": "checkout"}, '


class TestStart:
    def test_201_with_a_valid_pipeline_run_for_the_latest_active_version(self, client: ApiClient) -> None:
        create_workflow(client, version="1.0.0")
        newest = create_workflow(client, version="1.1.0", container_image="ghcr.io/acme/stuck:1.1.0@sha256:" + "c" * 64)
        create_workflow(client, version="2.0.0", status="draft")
        body = started(client, parameters=stuck_parameters(TIMEOUT_SECONDS=900))
        assert body["status"] == "pending" and body["workflow_id"] == "stuck-rollout-restart"
        assert body["version"] == "1.1.0"  # latest active, not the draft
        uuid.UUID(body["execution_id"])
        run = body["pipeline_run"]
        assert tekton.problems(run) == []
        (task,) = run["spec"]["pipelineSpec"]["tasks"]
        assert task["taskSpec"]["steps"][0]["image"] == newest["container_image"]
        assert tekton.step_environment(run) == {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": "checkout",
                                                "TIMEOUT_SECONDS": "900"}
        labels = run["metadata"]["labels"]
        assert (labels["kubernaut.ai/workflow-id"], labels["kubernaut.ai/workflow-version"],
                labels["kubernaut.ai/execution-id"]) == ("stuck-rollout-restart", "1.1.0", body["execution_id"])

    def test_defaults_reach_the_step_and_an_explicit_version_is_used(self, client: ApiClient) -> None:
        create_workflow(client, version="1.0.0")
        create_workflow(client, version="1.1.0")
        body = started(client, version="v1.0.0")
        assert body["version"] == "1.0.0"
        assert tekton.step_environment(body["pipeline_run"])["TIMEOUT_SECONDS"] == "600"

    def test_kinds_of_values_become_env_strings(self, client: ApiClient) -> None:
        create_kitchen(client)
        body = started(client, workflow_id="kitchen-sink",
                       parameters={"NAME": "abc", "COUNT": 3.0, "RATIO": 0.00001, "MODE": "safe", "DRY_RUN": True})
        assert tekton.step_environment(body["pipeline_run"]) == {
            "NAME": "abc", "COUNT": "3", "RATIO": "0.00001", "MODE": "safe", "DRY_RUN": "true"}

    def test_the_audit_record_keeps_the_incident_and_business_context(self, client: ApiClient) -> None:
        create_workflow(client)
        body = started(client)
        record = client.get(f"{EXECUTIONS}/{body['execution_id']}", scopes=READ).json
        assert record["incident"] == incident()
        assert record["incident"]["business_context"] == {"business_category": "payments", "risk_tolerance": "low"}
        assert record["parameters"] == {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": "checkout",
                                        "TIMEOUT_SECONDS": 600}
        assert record["pipeline_run_name"] == body["pipeline_run"]["metadata"]["name"]
        assert record["status"] == "pending" and record["started_at"] is None and record["finished_at"] is None
        assert [e["to"] for e in record["events"]] == ["pending"]


class TestRefusals:
    @pytest.mark.parametrize(("parameters", "path"), [
        ({"TARGET_NAMESPACE": "shop"}, "$.parameters.TARGET_DEPLOYMENT"),
        (stuck_parameters(PASSWORD="hunter2"), "$.parameters.PASSWORD"),
        (stuck_parameters(TIMEOUT_SECONDS=5), "$.parameters.TIMEOUT_SECONDS"),
        (stuck_parameters(NOTIFY_CHANNEL="#ops"), "$.parameters.NOTIFY_WEBHOOK_TOKEN"),
        (stuck_parameters(TARGET_NAMESPACE="Not Valid"), "$.parameters.TARGET_NAMESPACE"),
    ])
    def test_invalid_parameters_are_400_and_store_nothing(self, client: ApiClient, db: Any,
                                                          parameters: dict[str, Any], path: str) -> None:
        create_workflow(client)
        response = start(client, parameters=parameters)
        assert response.status == 400 and problem_type(response) == "validation-error"
        assert path in {e["path"] for e in response.json["errors"]}
        assert count_executions(db) == (0, 0)

    def test_disabled_workflow_is_409_and_stores_nothing(self, client: ApiClient, db: Any) -> None:
        create_workflow(client)
        client.patch(f"{PLAYBOOKS}/stuck-rollout-restart", {"enabled": False, "reason": "broken"},
                     scopes=("catalog:write",))
        for version in (None, "1.0.0"):
            response = start(client, version=version)
            assert response.status == 409 and problem_type(response) == "invalid-transition"
            assert "disabled" in response.json["detail"]
        assert count_executions(db) == (0, 0)

    @pytest.mark.parametrize("status", ["draft", "deprecated"])
    def test_non_active_version_is_409(self, client: ApiClient, db: Any, status: str) -> None:
        create_workflow(client, version="1.0.0")
        create_workflow(client, version="0.9.0", status="draft")
        if status == "deprecated":
            client.patch(f"{PLAYBOOKS}/stuck-rollout-restart/versions/0.9.0", {"status": "deprecated", "reason": "old"},
                         scopes=("catalog:write",))
        response = start(client, version="0.9.0")
        assert response.status == 409 and problem_type(response) == "invalid-transition"
        assert f"is {status}" in response.json["detail"]
        assert count_executions(db) == (0, 0)

    def test_no_active_version_is_409(self, client: ApiClient) -> None:
        create_workflow(client, version="1.0.0", status="draft")
        response = start(client)
        assert response.status == 409 and "no active version" in response.json["detail"]

    def test_unknown_workflow_or_version_is_404(self, client: ApiClient) -> None:
        create_workflow(client)
        assert start(client, workflow_id="nope").status == 404
        assert start(client, version="3.0.0").status == 404

    @pytest.mark.parametrize("body", [
        {},
        {"workflow_id": "stuck-rollout-restart", "parameters": stuck_parameters()},  # no incident
        {"workflow_id": "stuck-rollout-restart", "incident": {"id": "", "signal_type": "x"}},
        {"workflow_id": "stuck-rollout-restart", "incident": {"id": "i"}},
        {"workflow_id": "stuck-rollout-restart", "incident": {"id": "i", "signal_type": "x", "business_context": []}},
        {"workflow_id": "stuck-rollout-restart", "incident": {"id": "i", "signal_type": "x",
                                                              "business_context": {"Bad Key": "v"}}},
        {"workflow_id": "stuck-rollout-restart", "incident": {"id": "i" * 257, "signal_type": "x"}},
        {"workflow_id": "stuck-rollout-restart", "incident": {"id": "i", "signal_type": "x", "note": "a\u0000b"}},
        {"workflow_id": "stuck-rollout-restart", "incident": {"id": "i", "signal_type": "x", "blob": "x" * 40000}},
        {"workflow_id": "stuck-rollout-restart",
         "incident": {"id": "i", "signal_type": "x", "deep": [[[[[[[[[1]]]]]]]]]}},
        {"workflow_id": "stuck-rollout-restart", "incident": incident(), "parameters": "TARGET_NAMESPACE=shop"},
        {"workflow_id": "stuck-rollout-restart", "incident": incident(), "version": "latest"},
        {"workflow_id": "Stuck Rollout", "incident": incident()},
        {"workflow_id": "stuck-rollout-restart", "incident": incident(), "dry_run": True},
        {"workflow_id": ["stuck-rollout-restart"], "incident": incident()},
    ])
    def test_hostile_bodies_are_400_and_store_nothing(self, client: ApiClient, db: Any, body: dict[str, Any]) -> None:
        create_workflow(client)
        if body:  # a valid target, so that each body is refused for what is wrong in it
            body = {**body, "target": new_target()}
        response = client.post(EXECUTIONS, body, scopes=WRITE)
        assert response.status == 400 and problem_type(response) == "validation-error", response
        assert response.json["errors"]
        assert count_executions(db) == (0, 0)

    @pytest.mark.parametrize("raw", [
        b'{"workflow_id": "stuck-rollout-restart", "incident": {"id": "i", "signal_type": "x"}, ' + TARGET
        + b'"parameters": {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": "c", "TIMEOUT_SECONDS": NaN}}',
        b'{"workflow_id": "stuck-rollout-restart", ' + TARGET
        + b'"incident": {"id": "i", "signal_type": "x", "n": Infinity}}',
        b'{"workflow_id": "stuck-rollout-restart", ' + TARGET + b'"incident": {"id": "\\ud800", "signal_type": "x"}}',
        b'{"workflow_id": "stuck-rollout-restart", "incident": {"id": "i", "signal_type": "x"}, ' + TARGET
        + b'"parameters": {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": "\\udfff"}}',
    ])
    def test_json_that_postgres_or_a_process_cannot_hold_is_400(self, client: ApiClient, db: Any, raw: bytes) -> None:
        create_workflow(client)
        response = client.request("POST", EXECUTIONS, scopes=WRITE, body=raw,
                                  headers={"Content-Type": "application/json"})
        assert response.status == 400 and problem_type(response) == "validation-error", response
        assert count_executions(db) == (0, 0)

    def test_scopes(self, client: ApiClient) -> None:
        create_workflow(client)
        assert start(client).status == 201
        assert client.post(EXECUTIONS, {"workflow_id": "stuck-rollout-restart"}, scopes=READ).status == 403
        assert client.post(EXECUTIONS, {}, scopes=None).status == 401


class TestLifecycle:
    def test_pending_running_succeeded_records_times_and_events(self, client: ApiClient) -> None:
        create_workflow(client)
        execution_id = started(client)["execution_id"]
        running = move(client, execution_id, "running")
        assert running.status == 200 and running.json["status"] == "running"
        assert running.json["started_at"] and running.json["finished_at"] is None
        done = move(client, execution_id, "succeeded", "rollout complete")
        assert done.status == 200
        record = client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json
        assert record["status"] == "succeeded" and record["message"] == "rollout complete"
        assert record["finished_at"] >= record["started_at"] and record["duration_seconds"] >= 0
        assert [(e["from"], e["to"]) for e in record["events"]] == [
            (None, "pending"), ("pending", "running"), ("running", "succeeded")]
        assert record["events"][-1]["message"] == "rollout complete"

    def test_pending_can_fail_without_starting(self, client: ApiClient) -> None:
        create_workflow(client)
        execution_id = started(client)["execution_id"]
        failed = move(client, execution_id, "failed", "PipelineRun rejected by admission")
        assert failed.status == 200
        assert failed.json["started_at"] is None and failed.json["finished_at"] is not None
        assert failed.json["duration_seconds"] is None

    def test_pending_may_succeed_at_once_and_running_again_is_a_heartbeat(self, client: ApiClient) -> None:
        create_workflow(client)
        quick = started(client)["execution_id"]
        done = move(client, quick, "succeeded", started_at="2026-01-05T10:00:00Z", finished_at="2026-01-05T10:00:09Z")
        assert done.status == 200 and done.json["duration_seconds"] == 9.0  # a run over between two looks
        execution_id = started(client)["execution_id"]
        assert move(client, execution_id, "running").status == 200
        again = move(client, execution_id, "running", started_at="2026-01-05T10:00:00Z")
        assert again.status == 200 and again.json["started_at"] == "2026-01-05T10:00:00.000Z"  # Tekton's start
        record = client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json
        assert [(e["from"], e["to"]) for e in record["events"]] == [(None, "pending"), ("pending", "running")]

    @pytest.mark.parametrize(("path", "target"), [
        (["running", "succeeded"], "failed"),
        (["running", "succeeded"], "running"),
        (["running", "succeeded"], "succeeded"),
        (["failed"], "running"),
        (["running", "failed"], "succeeded"),
    ])
    def test_forbidden_moves_are_409_and_change_nothing(self, client: ApiClient, path: list[str], target: str) -> None:
        create_workflow(client)
        execution_id = started(client)["execution_id"]
        for status in path:
            assert move(client, execution_id, status).status == 200
        before = client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json
        response = move(client, execution_id, target)
        assert response.status == 409 and problem_type(response) == "invalid-transition"
        assert client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json == before

    @pytest.mark.parametrize("body", [
        {"status": "pending"}, {"status": "done"}, {}, {"status": "running", "x": 1},
        {"status": "failed", "message": 5}, {"status": "failed", "message": "m" * 4001},
        {"status": "failed", "reason": "runner-lost"},  # the catalog's own reasons are not a runner's to give
        {"status": "failed", "reason": "Timed\nout"}, {"status": "failed", "reason": "r" * 1001},
        {"status": "running", "started_at": "2026-01-05 10:00:00Z"}, {"status": "running", "started_at": "yesterday"},
        {"status": "running", "started_at": "2026-01-05T10:00:00"},  # no zone
        {"status": "running", "started_at": "2026-01-05T10:00:00Z\n"}, {"status": "running", "started_at": 1767600000},
        {"status": "running", "started_at": "2999-01-01T00:00:00Z"},  # far in the future
        {"status": "succeeded", "started_at": "2026-01-05T10:00:09Z", "finished_at": "2026-01-05T10:00:00Z"},
        {"status": "running", "pipeline_run": {"name": "run"}}, {"status": "running", "pipeline_run": {
            "namespace": "ns", "name": "run", "uid": "u", "spec": {}}},
    ])
    def test_bad_update_bodies_are_400_and_change_nothing(self, client: ApiClient, body: dict[str, Any]) -> None:
        create_workflow(client)
        execution_id = started(client)["execution_id"]
        before = client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json
        response = client.patch(f"{EXECUTIONS}/{execution_id}", body, scopes=RUN)
        assert response.status == 400 and problem_type(response) == "validation-error", response
        assert client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json == before

    def test_a_finish_before_the_recorded_start_is_400(self, client: ApiClient) -> None:
        create_workflow(client)
        execution_id = started(client)["execution_id"]
        assert move(client, execution_id, "running", started_at="2026-01-05T10:00:00Z").status == 200
        early = move(client, execution_id, "succeeded", finished_at="2026-01-05T09:59:59Z")
        assert early.status == 400 and early.json["errors"][0]["path"] == "$.finished_at", early
        assert client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json["status"] == "running"

    @pytest.mark.parametrize("execution_id", [str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1"])
    def test_unknown_execution_is_404(self, client: ApiClient, execution_id: str) -> None:
        assert move(client, execution_id, "running").status == 404
        assert client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).status == 404


class TestList:
    def test_filters_and_pagination_without_repeats(self, client: ApiClient) -> None:
        create_workflow(client, version="1.0.0")
        create_workflow(client, version="1.1.0")
        create_kitchen(client)
        # 14 executions of one workflow stay active at once here: more than its default blast radius allows.
        assert set_guards(client, max_concurrent=20).status == 200
        ids = {"1.0.0": [], "1.1.0": [], "kitchen": []}
        for index in range(7):
            ids["1.0.0"].append(started(client, version="1.0.0")["execution_id"])
            ids["1.1.0"].append(started(client)["execution_id"])
            if index < 3:
                kitchen = started(client, workflow_id="kitchen-sink", parameters={"NAME": "abc"})
                ids["kitchen"].append(kitchen["execution_id"])
        for execution_id in ids["1.1.0"][:4]:
            move(client, execution_id, "running")

        seen: list[str] = []
        cursor = None
        while True:
            query = "?limit=4" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(EXECUTIONS + query, scopes=READ).json
            assert len(page["items"]) <= 4
            seen += [item["execution_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 17
        everything = ids["1.0.0"] + ids["1.1.0"] + ids["kitchen"]
        assert set(seen) == set(everything)

        def listed(query: str) -> list[str]:
            return [item["execution_id"] for item in client.get(f"{EXECUTIONS}?{query}", scopes=READ).json["items"]]

        assert set(listed("workflow_id=kitchen-sink")) == set(ids["kitchen"])
        assert set(listed("workflow_id=stuck-rollout-restart&version=v1.0.0")) == set(ids["1.0.0"])
        assert set(listed("status=running")) == set(ids["1.1.0"][:4])
        assert listed("workflow_id=stuck-rollout-restart&version=1.1.0&status=pending") == ids["1.1.0"][:3:-1]

    @pytest.mark.parametrize("query", ["status=done", "version=banana", "workflow_id=Bad_Id", "limit=0", "limit=201",
                                       "cursor=garbage", "cursor=WyJ4Il0", "cursor=Wy0xXQ"])
    def test_bad_filters_are_400(self, client: ApiClient, query: str) -> None:
        response = client.get(f"{EXECUTIONS}?{query}", scopes=READ)
        assert response.status == 400 and problem_type(response) == "validation-error"


def test_an_execution_racing_a_disable_waits_for_it_and_is_refused(client: ApiClient, db: Any,
                                                                   database_url: str) -> None:
    """The share lock on the workflow row: an execution cannot slip in while a disable commits."""
    create_workflow(client)
    disabling = psycopg2.connect(database_url)
    try:
        with disabling.cursor() as cur:  # a disable in progress, holding the row lock as the catalog does
            cur.execute("SELECT 1 FROM workflows WHERE workflow_id = 'stuck-rollout-restart' FOR UPDATE")
            cur.execute("UPDATE workflows SET enabled = false WHERE workflow_id = 'stuck-rollout-restart'")
        results: list[Any] = []
        racer = threading.Thread(target=lambda: results.append(start(client)))
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # waiting for the lock, not reading the pre-disable state
        disabling.commit()
        racer.join(10)
    finally:
        disabling.close()
    assert results[0].status == 409 and "disabled" in results[0].json["detail"]
    assert count_executions(db) == (0, 0)
