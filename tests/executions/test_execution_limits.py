"""Who may act on an execution (README, "Ownership, clusters and key limits"): a key limited to namespaces acts only
on executions whose target is in them, and only the requester starts an execution after its approval. Each refusal
is a 403 with every catalog row as it was."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    REQUESTER,
    WRITE,
    create_workflow,
    decide,
    incident,
    problem_type,
    release,
    require_approval,
    stuck_parameters,
)
from tests.support.keys import bearer
from tests.support.registrations import catalog_dump

SHOP_B = {"kind": "Deployment", "namespace": "team-b", "name": "checkout"}


def request(target: dict[str, str], workflow_id: str = "stuck-rollout-restart") -> dict[str, Any]:
    return {"workflow_id": workflow_id, "parameters": stuck_parameters(), "incident": incident(), "target": target}


def requested(client: ApiClient, target: dict[str, str], scopes: tuple[str, ...] = REQUESTER,
              headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post(EXECUTIONS, request(target), scopes=None if headers else scopes, headers=headers)
    assert response.status == 201, response
    return response.json


@pytest.fixture
def team_a() -> dict[str, str]:
    return bearer("executions:write", "executions:approve", "catalog:read", namespaces=["team-a"], name="team-a")


@pytest.fixture
def team_b_executions(client: ApiClient) -> dict[str, str]:
    """team-b's executions in every state a key can act on, requested by a key without limits."""
    create_workflow(client)
    create_workflow(client, "gated-restart")
    assert require_approval(client, "gated-restart").status == 200
    pending = requested(client, SHOP_B)["execution_id"]
    waiting = client.post(EXECUTIONS, request({**SHOP_B, "name": "cart"}, "gated-restart"), scopes=REQUESTER).json
    approved = client.post(EXECUTIONS, request({**SHOP_B, "name": "pay"}, "gated-restart"), scopes=REQUESTER).json
    assert decide(client, approved["execution_id"], "approve").status == 200
    node = requested(client, {"kind": "Node", "name": "worker-1"})["execution_id"]  # cluster-scoped: no namespace
    return {"pending": pending, "waiting": waiting["execution_id"], "approved": approved["execution_id"],
            "node": node}


def test_a_key_limited_to_namespaces_starts_executions_only_on_targets_in_them(
    client: ApiClient, db: Any, team_a: dict[str, str],
) -> None:
    create_workflow(client)
    before = catalog_dump(db)
    for target in (SHOP_B, {"kind": "Node", "name": "worker-1"}):  # another namespace; no namespace at all
        refused = client.post(EXECUTIONS, request(target), scopes=None, headers=team_a)
        assert refused.status == 403 and problem_type(refused) == "forbidden", refused
        assert "team-a" in refused.json["detail"]
    assert catalog_dump(db) == before
    assert client.post(EXECUTIONS, request({**SHOP_B, "namespace": "team-a"}), scopes=None,
                       headers=team_a).status == 201


def test_a_key_limited_to_namespaces_cannot_act_on_or_read_other_namespaces_executions(
    client: ApiClient, db: Any, team_a: dict[str, str], team_b_executions: dict[str, str],
) -> None:
    ids = team_b_executions
    before = catalog_dump(db)
    attempts = [
        ("POST", f"{EXECUTIONS}/{ids['waiting']}/approve", {"reason": "looks fine"}),
        ("POST", f"{EXECUTIONS}/{ids['waiting']}/reject", {"reason": "no"}),
        ("POST", f"{EXECUTIONS}/{ids['approved']}/start", None),
        ("PATCH", f"{EXECUTIONS}/{ids['pending']}", {"status": "running"}),
        ("GET", f"{EXECUTIONS}/{ids['pending']}", None),
        ("GET", f"{EXECUTIONS}/{ids['node']}", None),
        ("POST", f"{EXECUTIONS}/{ids['node']}/reject", {"reason": "no"}),
    ]
    for method, path, body in attempts:
        refused = client.request(method, path, body, scopes=None, headers=team_a)
        assert refused.status == 403 and problem_type(refused) == "forbidden", (method, path, refused)
    assert catalog_dump(db) == before
    # Its list holds only its namespaces' executions (none yet, then its own).
    assert client.get(EXECUTIONS, scopes=None, headers=team_a).json["items"] == []
    own = requested(client, {**SHOP_B, "namespace": "team-a"}, headers=team_a)["execution_id"]
    listed = client.get(f"{EXECUTIONS}?limit=1", scopes=None, headers=team_a).json
    assert [item["execution_id"] for item in listed["items"]] == [own] and listed["next_cursor"] is None
    assert client.get(f"{EXECUTIONS}/{own}", scopes=None, headers=team_a).status == 200
    everything = {item["execution_id"] for item in client.get(EXECUTIONS, scopes=("catalog:read",)).json["items"]}
    assert everything == {*ids.values(), own}


def test_only_the_requester_starts_an_approved_execution(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    assert require_approval(client).status == 200
    waiting = requested(client, SHOP_B)["execution_id"]
    assert decide(client, waiting, "approve").status == 200
    before = catalog_dump(db)
    # Another executions:write key, an admin key, and a key with exactly the requester's scopes (ApiClient keeps one
    # key per set of scopes, so this one is made apart).
    strangers = ({"scopes": WRITE}, {"scopes": ("admin",)}, {"scopes": None, "headers": bearer(*REQUESTER)})
    for stranger in strangers:
        refused = client.post(f"{EXECUTIONS}/{waiting}/start", **stranger)
        assert refused.status == 403 and problem_type(refused) == "forbidden", refused  # was: 200, released
    assert catalog_dump(db) == before
    started = release(client, waiting)  # the requester (REQUESTER)
    assert started.status == 200 and started.json["status"] == "pending" and started.json["pipeline_run"]
