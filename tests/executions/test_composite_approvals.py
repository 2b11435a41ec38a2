"""Approvals cover every image that runs: a composite waits for approval when it, or a workflow one of its steps
resolves to, requires it; the answer names those steps; the start checks again."""

from __future__ import annotations

from typing import Any

from tests.support import tekton
from tests.support.api import ApiClient
from tests.support.composites import LABELS
from tests.support.executions import (
    COMPOSITE_VALUES,
    EXECUTIONS,
    READ,
    WRITE,
    decide,
    events,
    incident,
    new_target,
    problem_type,
    release,
    require_approval,
)
from tests.support.registrations import catalog_dump


def execute(client: ApiClient) -> Any:
    """scale-and-verify, requested with a key that holds executions:write only."""
    request = {"workflow_id": "scale-and-verify", "parameters": COMPOSITE_VALUES,
               "incident": incident(signal_type=LABELS["signal_type"]), "target": new_target()}
    return client.post(EXECUTIONS, request, scopes=WRITE)


def test_a_step_that_requires_approval_makes_the_composite_wait_naming_the_step(composed: ApiClient) -> None:
    assert require_approval(composed, "rollback-deployment").status == 200  # the finally step "undo" runs it
    answer = execute(composed)
    assert answer.status == 201, answer
    body = answer.json  # was: 201 pending with the PipelineRun, approvals bypassed by wrapping
    assert (body["status"], body["pipeline_run"]) == ("awaiting_approval", None)
    assert body["approval"]["required_by"] == {
        "workflow": False, "steps": [{"step": "undo", "workflow_id": "rollback-deployment"}]}
    assert body["approval"]["expires_at"] is not None
    execution_id = body["execution_id"]
    [(_, to, message, _)] = events(composed, execution_id)
    assert to == "awaiting_approval" and message is not None and "undo (rollback-deployment)" in message
    shown = composed.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json
    assert shown["approval"]["required_by"] == body["approval"]["required_by"]
    # Approved by another key, started by the requester: the PipelineRun runs every step.
    assert decide(composed, execution_id, "approve").status == 200
    started = release(composed, execution_id, scopes=WRITE)
    assert started.status == 200 and started.json["status"] == "pending", started
    run = started.json["pipeline_run"]
    assert tekton.problems(run) == []
    assert [task["name"] for task in run["spec"]["pipelineSpec"]["finally"]] == ["undo"]


def test_several_gated_steps_and_the_composite_itself_are_all_named(composed: ApiClient) -> None:
    assert require_approval(composed, "verify-rollout").status == 200  # "snapshot" and "verify" run it
    assert require_approval(composed, "scale-and-verify").status == 200
    body = execute(composed).json
    assert body["status"] == "awaiting_approval"
    assert body["approval"]["required_by"] == {"workflow": True, "steps": [
        {"step": "snapshot", "workflow_id": "verify-rollout"}, {"step": "verify", "workflow_id": "verify-rollout"}]}


def test_no_step_requiring_approval_leaves_the_composite_as_it_was(composed: ApiClient) -> None:
    body = execute(composed).json
    assert (body["status"], body["approval"]) == ("pending", None) and body["pipeline_run"] is not None
    assert require_approval(composed, "scale-and-verify").status == 200
    gated = execute(composed).json
    assert gated["approval"]["required_by"] == {"workflow": True, "steps": []}


def test_a_step_requiring_approval_since_the_approval_stops_the_start(composed: ApiClient, db: Any) -> None:
    assert require_approval(composed, "rollback-deployment").status == 200
    execution_id = execute(composed).json["execution_id"]
    assert decide(composed, execution_id, "approve").status == 200
    assert require_approval(composed, "scale-deployment").status == 200  # after the approval: not covered by it
    before = catalog_dump(db)
    refused = release(composed, execution_id, scopes=WRITE)
    assert refused.status == 409 and problem_type(refused) == "invalid-transition", refused
    assert "scale-out (scale-deployment)" in refused.json["detail"]
    assert catalog_dump(db) == before  # still approved, its held values kept, nothing released
    assert composed.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json["status"] == "approved"
    # Rejected, and asked again: the new request names both steps.
    assert decide(composed, execution_id, "reject").status == 200
    again = execute(composed).json
    assert [s["step"] for s in again["approval"]["required_by"]["steps"]] == ["scale-out", "undo"]
