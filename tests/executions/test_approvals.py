"""Human approval where operators want it: the whole flow with two distinct API keys, expiry, history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.config import load_settings
from chalicelib.container import services
from tests.support import tekton
from tests.support.api import PROJECT_DIR, ApiClient, services_started_with
from tests.support.executions import (
    APPROVER,
    EXECUTIONS,
    PLAYBOOKS,
    READ,
    REQUESTER,
    RUN,
    WRITE,
    count_executions,
    create_workflow,
    decide,
    events,
    move,
    problem_type,
    release,
    require_approval,
    start,
    stuck_parameters,
)

CHECKOUT = {"kind": "Deployment", "namespace": "shop", "name": "checkout"}


def key_id(client: ApiClient, scopes: tuple[str, ...]) -> str:
    principal = services().api_keys.authenticate(client.token(*scopes))
    assert principal is not None
    return principal.key_id


def gated(client: ApiClient) -> None:
    create_workflow(client)
    assert require_approval(client).status == 200


def requested(client: ApiClient, target: dict[str, str] = CHECKOUT, **body: Any) -> dict[str, Any]:
    response = start(client, target=target, scopes=REQUESTER, **body)
    assert response.status == 201, response
    return response.json


def test_approval_required_is_changed_with_a_reason_audited_and_shown(client: ApiClient) -> None:
    create_workflow(client)
    assert client.get(f"{PLAYBOOKS}/stuck-rollout-restart", scopes=READ).json["approval_required"] is False
    changed = require_approval(client)
    assert changed.status == 200 and changed.json["approval_required"] is True
    assert changed.json["enabled"] is True  # untouched
    assert client.get(f"{PLAYBOOKS}/stuck-rollout-restart", scopes=READ).json["approval_required"] is True
    assert require_approval(client).status == 200  # the same value again records nothing new
    both = client.patch(f"{PLAYBOOKS}/stuck-rollout-restart",
                        {"approval_required": False, "enabled": False, "reason": "retired"}, scopes=("catalog:write",))
    assert both.status == 200 and (both.json["approval_required"], both.json["enabled"]) == (False, False)
    history = client.get(f"{PLAYBOOKS}/stuck-rollout-restart/versions", scopes=READ).json["workflow_changes"]
    assert [(c["field"], c["from"], c["to"], c["reason"]) for c in history] == [
        ("approval_required", "false", "true", "change board"),
        ("enabled", "true", "false", "retired"),
        ("approval_required", "true", "false", "retired"),
    ]
    assert all(c["changed_by"] == key_id(client, ("catalog:write",)) for c in history)


@pytest.mark.parametrize(("body", "status", "path"), [
    ({"approval_required": True}, 400, "$.reason"),
    ({"approval_required": "yes", "reason": "r"}, 400, "$.approval_required"),
    ({"reason": "nothing to change"}, 400, "$"),
    ({"approval_required": True, "reason": "   "}, 400, "$.reason"),
    ({"approval_required": True, "reason": "r", "title": "new"}, 409, None),  # content is immutable
])
def test_bad_workflow_changes_change_nothing(client: ApiClient, body: dict[str, Any], status: int,
                                            path: str | None) -> None:
    create_workflow(client)
    before = client.get(f"{PLAYBOOKS}/stuck-rollout-restart/versions", scopes=READ).json
    response = client.patch(f"{PLAYBOOKS}/stuck-rollout-restart", body, scopes=("catalog:write",))
    assert response.status == status, response
    if path:
        assert path in {e["path"] for e in response.json["errors"]}
    else:
        assert problem_type(response) == "immutable-field"
    assert client.get(f"{PLAYBOOKS}/stuck-rollout-restart/versions", scopes=READ).json == before


def test_the_whole_approval_flow_with_two_keys(client: ApiClient) -> None:
    gated(client)
    requester, approver = key_id(client, REQUESTER), key_id(client, APPROVER)
    asked_at = datetime.now(UTC)
    body = requested(client, parameters=stuck_parameters(TIMEOUT_SECONDS=900))
    execution_id = body["execution_id"]
    assert (body["status"], body["pipeline_run"], body["created_by"]) == ("awaiting_approval", None, requester)
    deadline = datetime.fromisoformat(body["approval"]["expires_at"])
    assert timedelta(seconds=3590) < deadline - asked_at < timedelta(seconds=3610)  # APPROVAL_TTL_SECONDS default
    assert body["approval"]["decided_by"] is None

    early = release(client, execution_id)
    assert early.status == 409 and problem_type(early) == "invalid-transition"
    assert "approve" in early.json["detail"]
    own = decide(client, execution_id, "approve", scopes=REQUESTER)
    assert own.status == 403 and problem_type(own) == "forbidden"
    assert "requested with this API key" in own.json["detail"]
    assert decide(client, execution_id, "approve", scopes=WRITE).status == 403  # the scope is executions:approve
    assert release(client, execution_id, scopes=APPROVER).status == 403  # starting needs executions:write
    assert move(client, execution_id, "running").status == 409  # no PATCH around the approval

    approved = decide(client, execution_id, "approve", reason="checked the rollout, go")
    assert approved.status == 200, approved
    assert approved.json["status"] == "approved"
    assert (approved.json["approval"]["decided_by"], approved.json["approval"]["reason"]) == (
        approver, "checked the rollout, go")
    assert decide(client, execution_id, "approve").status == 409
    busy = start(client, target=CHECKOUT, scopes=REQUESTER)  # an approved execution still holds the target
    assert busy.status == 409 and busy.json["active_execution_id"] == execution_id

    started = release(client, execution_id)
    assert started.status == 200, started
    assert started.json["status"] == "pending" and started.json["execution_id"] == execution_id
    run = started.json["pipeline_run"]
    assert tekton.problems(run) == []
    assert tekton.step_environment(run) == {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": "checkout",
                                            "TIMEOUT_SECONDS": "900"}
    assert run["metadata"]["name"] == started.json["pipeline_run_name"]
    assert run["metadata"]["annotations"]["kubernaut.ai/target-name"] == "checkout"
    twice = release(client, execution_id)
    assert twice.status == 409 and problem_type(twice) == "invalid-transition"
    assert decide(client, execution_id, "reject").status == 409  # too late to reject a released run

    assert move(client, execution_id, "running").status == 200
    assert move(client, execution_id, "succeeded").status == 200
    assert events(client, execution_id) == [
        (None, "awaiting_approval", "approval required", requester),
        ("awaiting_approval", "approved", "checked the rollout, go", approver),
        ("approved", "pending", "started", requester),
        ("pending", "running", None, key_id(client, RUN)),
        ("running", "succeeded", None, key_id(client, RUN)),
    ]


@pytest.mark.parametrize("approve_first", [False, True])
def test_reject_is_final_and_frees_the_target(client: ApiClient, approve_first: bool) -> None:
    gated(client)
    execution_id = requested(client)["execution_id"]
    if approve_first:
        assert decide(client, execution_id, "approve").status == 200
    rejected = decide(client, execution_id, "reject", reason="not during the sale")
    assert rejected.status == 200 and rejected.json["status"] == "rejected"
    assert rejected.json["finished_at"] is not None
    assert rejected.json["approval"]["reason"] == "not during the sale"
    for response in (release(client, execution_id), decide(client, execution_id, "approve"),
                     decide(client, execution_id, "reject"), move(client, execution_id, "failed")):
        assert response.status == 409 and problem_type(response) == "invalid-transition"
    assert events(client, execution_id)[-1][1:3] == ("rejected", "not during the sale")
    assert requested(client)["status"] == "awaiting_approval"  # the target is free again


def test_a_workflow_without_approval_runs_at_once(client: ApiClient) -> None:
    gated(client)
    assert require_approval(client, required=False).status == 200
    body = requested(client)
    assert body["status"] == "pending" and body["pipeline_run"] is not None and body["approval"] is None
    assert release(client, body["execution_id"]).status == 409  # nothing to start: it is released already


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": 5}, {"reason": "ok", "approved": True},
                                  {"reason": "r" * 1001}])
def test_a_decision_without_a_proper_reason_is_400_and_changes_nothing(client: ApiClient, db: Any,
                                                                       body: dict[str, Any]) -> None:
    gated(client)
    execution_id = requested(client)["execution_id"]
    for decision in ("approve", "reject"):
        response = client.post(f"{EXECUTIONS}/{execution_id}/{decision}", body, scopes=APPROVER)
        assert response.status == 400 and problem_type(response) == "validation-error", response
    assert client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json["status"] == "awaiting_approval"
    assert count_executions(db) == (1, 1)


@pytest.mark.parametrize("execution_id", ["00000000-0000-4000-8000-000000000000", "nope"])
def test_unknown_executions_are_404(client: ApiClient, execution_id: str) -> None:
    assert decide(client, execution_id, "approve").status == 404
    assert decide(client, execution_id, "reject").status == 404
    assert release(client, execution_id).status == 404


def test_a_disabled_workflow_is_not_started_even_when_approved(client: ApiClient) -> None:
    gated(client)
    execution_id = requested(client)["execution_id"]
    assert decide(client, execution_id, "approve").status == 200
    client.patch(f"{PLAYBOOKS}/stuck-rollout-restart", {"enabled": False, "reason": "incident"},
                 scopes=("catalog:write",))
    refused = release(client, execution_id)
    assert refused.status == 409 and "disabled" in refused.json["detail"]
    assert client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json["status"] == "approved"


# --- expiry -------------------------------------------------------------------------------------
TTL = 1  # seconds: APPROVAL_TTL_SECONDS for the tests below


@pytest.fixture
def short_ttl(db: Any) -> Iterator[None]:
    """The services as a process started with APPROVAL_TTL_SECONDS=1 builds them (same database)."""
    with services_started_with(APPROVAL_TTL_SECONDS=str(TTL)):
        yield


def test_expiry_after_the_ttl_on_read_on_action_and_on_schedule(client: ApiClient, short_ttl: None) -> None:
    from chalice.test import Client

    from app import app

    gated(client)
    targets = [{"kind": "Deployment", "namespace": "shop", "name": f"svc-{i}"} for i in range(4)]
    read, acted, approved, swept = (requested(client, target=target)["execution_id"] for target in targets)
    assert decide(client, approved, "approve").status == 200  # approved, then never started
    time.sleep(TTL + 0.3)  # the one wait of this suite's approval tests

    record = client.get(f"{EXECUTIONS}/{read}", scopes=READ).json  # expired when read
    assert record["status"] == "expired" and record["finished_at"] is not None
    assert events(client, read)[-1] == ("awaiting_approval", "expired",
                                        "not approved within the approval window (APPROVAL_TTL_SECONDS)", "system")
    late = decide(client, acted, "approve")  # expired when acted on: refused, and recorded
    assert late.status == 409 and "expired" in late.json["detail"]
    assert client.get(f"{EXECUTIONS}/{acted}", scopes=READ).json["status"] == "expired"
    too_late = release(client, approved)
    assert too_late.status == 409 and "not started" in too_late.json["detail"]
    assert events(client, approved)[-1][:2] == ("approved", "expired")

    with Client(app, stage_name="local", project_dir=str(PROJECT_DIR)) as lambdas:  # the scheduled function, as EventBridge invokes it
        result = lambdas.lambda_.invoke("maintenance", lambdas.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    assert result.payload == {"requeued": 0, "abandoned": 0, "expired": 1, "lapsed": 0, "judged": 0,
                              "notifications": {"delivered": 0, "retried": 0, "abandoned": 0}}  # no channel here
    with services().db.reading() as cur:
        cur.execute("SELECT status FROM executions WHERE execution_id = %s", (swept,))
        assert cur.fetchone()["status"] == "expired"

    assert all(requested(client, target=target)["status"] == "awaiting_approval" for target in targets)  # all free
    listed = client.get(f"{EXECUTIONS}?status=expired", scopes=READ).json["items"]
    assert {item["execution_id"] for item in listed} == {read, acted, approved, swept}
    [stats] = client.get(f"{PLAYBOOKS}/stuck-rollout-restart/stats", scopes=READ).json["versions"]
    assert (stats["expired"], stats["awaiting_approval"], stats["executions"]) == (4, 4, 8)


def test_the_list_filters_and_stats_count_every_state(client: ApiClient) -> None:
    gated(client)
    ids = {name: requested(client, target={"kind": "Deployment", "name": name})["execution_id"]
           for name in ("waiting", "approved", "rejected", "started")}
    decide(client, ids["approved"], "approve")
    decide(client, ids["rejected"], "reject")
    decide(client, ids["started"], "approve")
    release(client, ids["started"])
    for status, name in (("awaiting_approval", "waiting"), ("approved", "approved"), ("rejected", "rejected"),
                         ("pending", "started")):
        items = client.get(f"{EXECUTIONS}?status={status}", scopes=READ).json["items"]
        assert [item["execution_id"] for item in items] == [ids[name]], status
    [stats] = client.get(f"{PLAYBOOKS}/stuck-rollout-restart/stats", scopes=READ).json["versions"]
    assert {key: stats[key] for key in ("awaiting_approval", "approved", "rejected", "pending", "expired",
                                        "executions", "success_rate")} == {
        "awaiting_approval": 1, "approved": 1, "rejected": 1, "pending": 1, "expired": 0, "executions": 4,
        "success_rate": None}


def test_approval_ttl_is_configuration() -> None:
    from chalicelib.domain.config_error import ConfigError

    assert load_settings({}).approval_ttl_seconds == 3600
    assert load_settings({"APPROVAL_TTL_SECONDS": "90"}).approval_ttl_seconds == 90
    for bad in ("0", "soon", "-5", str(8 * 24 * 3600)):
        with pytest.raises(ConfigError, match="APPROVAL_TTL_SECONDS"):
            load_settings({"APPROVAL_TTL_SECONDS": bad})
