"""Executing a composite workflow: its steps resolve again at that moment into one Tekton PipelineRun (checked
with the same structure check as a single-step run), the execution records what each step resolved to, a step
that no longer resolves is a 409 unresolvable-step, writeOnly values stay out of storage and logs, statistics
and search see composites."""

from __future__ import annotations

import io
import json
from typing import Any

from tests.support import tekton
from tests.support.api import ApiClient
from tests.support.composites import LABELS, create_composite, create_step_workflows, image, step_workflow
from tests.support.executions import (
    COMPOSITE_VALUES,
    EXECUTIONS,
    PLAYBOOKS,
    READ,
    REQUESTER,
    SECRET,
    WRITE,
    claim,
    count_executions,
    decide,
    incident,
    move,
    new_target,
    release,
    require_approval,
)

CATALOG_WRITE = ("catalog:write",)


def execute(client: ApiClient, parameters: dict[str, Any] | None = None, **body: Any) -> Any:
    request = {"workflow_id": "scale-and-verify", "parameters": COMPOSITE_VALUES if parameters is None else parameters,
               "incident": incident(signal_type=LABELS["signal_type"]), "target": new_target(), **body}
    return client.post(EXECUTIONS, request, scopes=WRITE)


def resolved(response: Any) -> dict[str, str]:
    return {s["step"]: s["version"] for s in response.json["steps"]}


def test_one_pipeline_run_with_the_highest_active_version_in_each_range(composed: ApiClient) -> None:
    response = execute(composed)
    assert response.status == 201, response
    body = response.json
    run = body["pipeline_run"]
    assert tekton.problems(run) == []
    assert body["container_image"] is None and body["status"] == "pending"
    # ^1.2.0 -> 1.3.0 (not 2.0.0, not the draft 1.4.0); 1.0.0 exact; 1.x -> 1.1.0; ^2.0.0 -> 2.1.0 (not 3.0.0).
    assert body["steps"] == [
        {"step": "scale-out", "finally": False, "workflow_id": "scale-deployment", "version": "1.3.0",
         "container_image": image("scale-deployment", "1.3.0")},
        {"step": "snapshot", "finally": False, "workflow_id": "verify-rollout", "version": "1.0.0",
         "container_image": image("verify-rollout", "1.0.0")},
        {"step": "verify", "finally": False, "workflow_id": "verify-rollout", "version": "1.1.0",
         "container_image": image("verify-rollout", "1.1.0")},
        {"step": "undo", "finally": True, "workflow_id": "rollback-deployment", "version": "2.1.0",
         "container_image": image("rollback-deployment", "2.1.0")},
    ]
    pipeline = run["spec"]["pipelineSpec"]
    assert [(t["name"], t.get("runAfter")) for t in pipeline["tasks"]] == [
        ("scale-out", None), ("snapshot", None), ("verify", ["scale-out"])]
    (undo,) = pipeline["finally"]
    assert undo["name"] == "undo"
    assert undo["when"] == [{"input": "$(tasks.status)", "operator": "in", "values": ["Failed"]}]
    for task in [*pipeline["tasks"], undo]:
        (step,) = task["taskSpec"]["steps"]
        assert step["image"] == next(s["container_image"] for s in body["steps"] if s["step"] == task["name"])
    assert tekton.task_environment(run, "scale-out") == {"NAMESPACE": "shop", "DEPLOYMENT": "checkout",
                                                         "REPLICAS": "4"}
    # The writeOnly value reaches the step that takes it only through the execution's Secret.
    assert tekton.task_environment(run, "undo")["NOTIFY_TOKEN"] == \
        f"secretKeyRef:kubernaut-exec-{body['execution_id']}/NOTIFY_TOKEN"
    (item,) = claim(composed).json["items"]
    assert item["pipeline_run"] == run
    assert tekton.task_environment(run, "undo", item["secret"])["NOTIFY_TOKEN"] == SECRET

    record = composed.get(f"{EXECUTIONS}/{body['execution_id']}", scopes=READ).json
    assert record["steps"] == body["steps"]
    listed = composed.get(f"{EXECUTIONS}?workflow_id=scale-and-verify", scopes=READ).json["items"]
    assert [item["steps"] for item in listed] == [body["steps"]]


def test_steps_resolve_again_at_each_execution(composed: ApiClient) -> None:
    assert resolved(execute(composed))["scale-out"] == "1.3.0"
    # A newer version in range is taken by the next execution; a deprecated one no longer is.
    composed.post(PLAYBOOKS, step_workflow("scale-deployment", "1.5.0"), scopes=CATALOG_WRITE)
    assert resolved(execute(composed))["scale-out"] == "1.5.0"
    for version in ("1.5.0", "1.3.0"):
        composed.patch(f"{PLAYBOOKS}/scale-deployment/versions/{version}", {"status": "deprecated", "reason": "bad"},
                       scopes=CATALOG_WRITE)
    assert resolved(execute(composed))["scale-out"] == "1.2.0"


def test_a_step_disabled_after_creation_is_409_unresolvable_step(composed: ApiClient, db: Any) -> None:
    composed.patch(f"{PLAYBOOKS}/verify-rollout", {"enabled": False, "reason": "under investigation"},
                   scopes=CATALOG_WRITE)
    before = count_executions(db)
    response = execute(composed)
    assert response.status == 409, response
    assert response.json["type"].endswith("/unresolvable-step")
    assert "step 'snapshot'" in response.json["detail"] and "disabled" in response.json["detail"]
    assert {e["path"] for e in response.json["errors"]} == {"$.steps[1]", "$.steps[2]"}
    assert count_executions(db) == before
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM execution_steps")
        assert cur.fetchone()["n"] == 0

    composed.patch(f"{PLAYBOOKS}/verify-rollout", {"enabled": True, "reason": "fixed"}, scopes=CATALOG_WRITE)
    assert execute(composed).status == 201


def test_a_step_with_no_active_version_left_in_range_is_409(composed: ApiClient) -> None:
    for version in ("2.0.0", "2.1.0"):
        composed.patch(f"{PLAYBOOKS}/rollback-deployment/versions/{version}",
                       {"status": "deprecated", "reason": "replaced by 3.x"}, scopes=CATALOG_WRITE)
    response = execute(composed)
    assert response.status == 409
    assert response.json["errors"] == [{"path": "$.finally[0]", "message":
        "step 'undo': workflow 'rollback-deployment' has no active version in range '^2.0.0' "
        "(active versions: 3.0.0)"}]


def test_a_value_a_step_refuses_is_a_400_at_the_composite_parameter(composed: ApiClient, db: Any) -> None:
    before = count_executions(db)
    # The composite allows it, scale-deployment does not.
    response = execute(composed, {**COMPOSITE_VALUES, "REPLICAS": 60})
    assert response.status == 400
    assert response.json["errors"] == [{"path": "$.parameters.REPLICAS", "message":
                                        "step 'scale-out' (scale-deployment 1.3.0), parameter REPLICAS: "
                                        "must satisfy maximum 50"}]
    response = execute(composed, {"NAMESPACE": "shop", "DEPLOYMENT": "checkout"})  # the composite's own schema
    assert response.status == 400
    assert [e["path"] for e in response.json["errors"]] == ["$.parameters.REPLICAS"]
    assert count_executions(db) == before


def test_write_only_values_are_handed_over_once_and_never_stored_or_logged(
        composed: ApiClient, db: Any, service_log: io.StringIO) -> None:
    response = execute(composed)
    assert response.status == 201
    assert SECRET not in response.body.decode()
    assert claim(composed).body.decode().count(SECRET) == 1  # only the runner's claim carries it
    assert response.json["parameters"]["NOTIFY_TOKEN"] == "***"
    assert response.json["redacted_parameters"] == ["NOTIFY_TOKEN"]
    execution_id = response.json["execution_id"]
    for read in (composed.get(f"{EXECUTIONS}/{execution_id}", scopes=READ), composed.get(EXECUTIONS, scopes=READ)):
        assert SECRET not in read.body.decode()
    with db.reading() as cur:
        cur.execute("SELECT to_jsonb(e)::text AS row FROM executions e "
                    "UNION ALL SELECT to_jsonb(s)::text FROM execution_steps s")
        assert SECRET not in "\n".join(row["row"] for row in cur.fetchall())
    assert SECRET not in service_log.getvalue()
    resolved_line = next(json.loads(line) for line in service_log.getvalue().splitlines()
                         if '"composite steps resolved"' in line)
    assert resolved_line["execution_id"] == execution_id
    assert resolved_line["steps"][0] == {"step": "scale-out", "workflow_id": "scale-deployment", "version": "1.3.0"}


def test_statistics_count_composite_executions(composed: ApiClient) -> None:
    first = execute(composed).json["execution_id"]
    execute(composed)
    move(composed, first, "running")
    move(composed, first, "failed", "verify timed out")
    stats = composed.get(f"{PLAYBOOKS}/scale-and-verify/stats", scopes=READ).json["versions"]
    assert [(s["version"], s["executions"], s["failed"], s["pending"]) for s in stats] == [("1.0.0", 2, 1, 1)]
    steps = composed.get(f"{PLAYBOOKS}/verify-rollout/stats", scopes=READ).json["versions"]
    # verify-rollout runs twice per execution (snapshot 1.0.0 and verify 1.1.0), its own executions: none.
    assert {s["version"]: (s["executions"], s["composite_runs"]) for s in steps} == {"1.1.0": (0, 2),
                                                                                     "1.0.0": (0, 2)}


def test_search_finds_a_composite_by_what_its_steps_do(client: ApiClient) -> None:
    create_step_workflows(client)
    # Only this step's title says "canary"; the composite's own title and description never do.
    client.post(PLAYBOOKS, step_workflow("verify-rollout", "1.2.0", title="Canary analysis of a rollout"),
                scopes=CATALOG_WRITE)
    create_composite(client)
    found = client.get(f"{PLAYBOOKS}/search?query=canary+analysis", scopes=READ).json["results"]
    by_id = {hit["workflow_id"]: hit for hit in found}
    assert "scale-and-verify" in by_id
    assert by_id["scale-and-verify"]["explanation"]["text"] > 0
    assert by_id["scale-and-verify"]["container_image"] is None


def test_a_gated_composite_waits_for_approval_and_its_steps_resolve_again_when_it_starts(composed: ApiClient,
                                                                                         db: Any) -> None:
    """Approvals apply to composites like any workflow: nothing resolves into a run before the start, the
    held secret is sealed meanwhile, and a step disabled while it waited makes the start a 409."""
    assert require_approval(composed, "scale-and-verify").status == 200
    target = new_target()
    waiting = composed.post(EXECUTIONS, {"workflow_id": "scale-and-verify", "parameters": COMPOSITE_VALUES,
                                         "target": target, "incident": incident(signal_type=LABELS["signal_type"])},
                            scopes=REQUESTER)
    assert waiting.status == 201 and waiting.json["status"] == "awaiting_approval", waiting
    assert waiting.json["pipeline_run"] is None and waiting.json["steps"] is None
    assert SECRET not in waiting.body.decode()
    execution_id = waiting.json["execution_id"]
    assert decide(composed, execution_id, "approve").status == 200

    composed.patch(f"{PLAYBOOKS}/verify-rollout", {"enabled": False, "reason": "under investigation"},
                   scopes=CATALOG_WRITE)
    refused = release(composed, execution_id)
    assert refused.status == 409 and refused.json["type"].endswith("/unresolvable-step")
    assert composed.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json["status"] == "approved"  # nothing changed

    composed.patch(f"{PLAYBOOKS}/verify-rollout", {"enabled": True, "reason": "fixed"}, scopes=CATALOG_WRITE)
    started = release(composed, execution_id)
    assert started.status == 200, started
    run = started.json["pipeline_run"]
    assert tekton.problems(run) == [] and started.json["status"] == "pending"
    assert resolved(started) == {"scale-out": "1.3.0", "snapshot": "1.0.0", "verify": "1.1.0", "undo": "2.1.0"}
    assert SECRET not in started.body.decode()
    annotations = run["metadata"]["annotations"]
    assert (annotations["kubernaut.ai/target-name"], annotations["kubernaut.ai/execution-id"]) == (
        target["name"], execution_id)
    (item,) = claim(composed).json["items"]  # the held value, handed to the runner
    assert tekton.task_environment(run, "undo", item["secret"])["NOTIFY_TOKEN"] == SECRET
    assert move(composed, execution_id, "running").status == 200
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM execution_secrets")
        assert cur.fetchone()["n"] == 0
