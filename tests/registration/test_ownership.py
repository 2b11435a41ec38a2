"""Every workflow has an owner, and only its owner writes it (README, "Ownership, clusters and key limits").

The attacks of issue 22 as a key limited to team-a would run them against the real registry, the registration
jobs and the database: each now fails (a failed registration, a 403 or a 409) with every catalog row as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.container import services
from tests.support.api import ApiClient
from tests.support.catalog import problem_type, workflow
from tests.support.keys import bearer, key_id_of
from tests.support.oci import playbook_schema
from tests.support.registrations import catalog_dump, register, wait_for_jobs
from tests.support.resources import event, rw

PLAYBOOKS = "/api/v1/playbooks"
RECONCILE = "/api/v1/registrations/reconcile"
WATCHER = ("registrations:write", "catalog:read")
Push = Callable[..., tuple[str, str]]


# Sources registered a moment ago are reconciled too.
pytestmark = pytest.mark.usefixtures("no_reconcile_grace")


@pytest.fixture
def team_a() -> dict[str, str]:
    return bearer(*WATCHER, namespaces=["team-a"], name="team-a watcher")


@pytest.fixture
def team_b_workflow(client: ApiClient, push: Push) -> dict[str, Any]:
    """team-b's workflow, registered from its resource by team-b's own key."""
    image, _ = push(playbook_schema(workflow_id="team-b-fix"))
    obj = rw(image, name="team-b-fix", namespace="team-b")
    _, done = register(client, obj, headers=bearer(*WATCHER, namespaces=["team-b"], name="team-b watcher"))
    assert done["status"] == "succeeded", done
    return obj


@pytest.fixture
def rest_workflow(client: ApiClient) -> str:
    assert client.post(PLAYBOOKS, workflow(workflow_id="rest-fix"), scopes=("catalog:write",)).status == 201
    return "rest-fix"


def attack(client: ApiClient, key: dict[str, str], workflow_id: str, kind: str, image: str, version: str = "1.0.0",
           **spec: Any) -> dict[str, Any]:
    """A team-a resource naming ``workflow_id``, delivered with ``key``; returns the finished registration."""
    obj = rw(image, name="innocent-looking", namespace="team-a", version=version, workflowId=workflow_id, **spec)
    _, done = register(client, obj, kind, headers=key)
    return done


def test_owners_are_shown_on_reads(client: ApiClient, team_b_workflow: dict[str, Any], rest_workflow: str) -> None:
    resource_owned = client.get(f"{PLAYBOOKS}/team-b-fix").json
    assert resource_owned["owner"] == {"kind": "resource", "cluster": "default", "namespace": "team-b"}
    assert resource_owned["source"]["cluster"] == "default"
    assert client.get(f"{PLAYBOOKS}/team-b-fix/versions/1.0.0").json["owner"] == resource_owned["owner"]
    assert client.get(f"{PLAYBOOKS}/{rest_workflow}").json["owner"] == {"kind": "api"}
    listed = {item["workflow_id"]: item["owner"] for item in client.get(PLAYBOOKS).json["items"]}
    assert listed == {"team-b-fix": resource_owned["owner"], "rest-fix": {"kind": "api"}}


@pytest.mark.parametrize("target", ["team-b-fix", "rest-fix"])
def test_another_origin_cannot_disable_take_over_or_reconcile_away_a_workflow(
    client: ApiClient, push: Push, db: Any, team_a: dict[str, str], team_b_workflow: dict[str, Any],
    rest_workflow: str, target: str,
) -> None:
    before = catalog_dump(db)
    owner = "namespace 'team-b' in cluster 'default'" if target == "team-b-fix" else "the REST API"
    higher, _ = push(playbook_schema(workflow_id=target, version="2.0.0"))
    # The very content team-b registered (identical content used to be accepted, and spec.enabled applied).
    same = team_b_workflow["spec"]["image"] if target == "team-b-fix" else push(playbook_schema(workflow_id=target))[0]
    attempts = [
        attack(client, team_a, target, "DELETED", same),  # was: 202, succeeded, the workflow disabled
        attack(client, team_a, target, "ADDED", higher, version="2.0.0"),  # was: a new latest version, moved source
        attack(client, team_a, target, "MODIFIED", same, enabled=False),  # was: disabled by spec.enabled
    ]
    for done in attempts:
        assert done["status"] == "failed", done
        assert done["error"]["type"] == "WorkflowOwnedElsewhere"
        assert "owned by" in done["error"]["detail"] and owner in done["error"]["detail"]
        assert "namespace 'team-a'" in done["error"]["detail"]  # where the refused registration came from
    # ... and the reconciliation that disabled it for good: team-a's watcher sees no resources at all.
    reconciled = client.post(RECONCILE, {"scope": {"namespace": "team-a"}, "live": []}, scopes=None, headers=team_a)
    assert reconciled.status == 200 and reconciled.json == {"disabled": [], "stale": []}
    assert catalog_dump(db) == before
    assert client.get(f"{PLAYBOOKS}/{target}").json["enabled"] is True


def test_rest_cannot_add_versions_to_a_resource_owned_workflow(
    client: ApiClient, db: Any, team_b_workflow: dict[str, Any],
) -> None:
    before = catalog_dump(db)
    for version in ("1.0.0", "9.0.0"):  # the registered version again, and a new one
        refused = client.post(PLAYBOOKS, workflow(version, workflow_id="team-b-fix"), scopes=("catalog:write",))
        assert refused.status == 409 and problem_type(refused) == "workflow-owned-elsewhere"
        assert "namespace 'team-b' in cluster 'default'" in refused.json["detail"]
    assert catalog_dump(db) == before


def test_the_owner_keeps_registering_and_deleting_its_resource_releases_nothing(
    client: ApiClient, push: Push, db: Any, team_a: dict[str, str], team_b_workflow: dict[str, Any],
) -> None:
    team_b = bearer(*WATCHER, namespaces=["team-b"])
    newer, _ = push(playbook_schema(workflow_id="team-b-fix", version="1.1.0"))
    _, done = register(client, rw(newer, name="team-b-fix", namespace="team-b", version="1.1.0"), headers=team_b)
    assert done["status"] == "succeeded" and client.get(f"{PLAYBOOKS}/team-b-fix").json["version"] == "1.1.0"
    _, deleted = register(client, team_b_workflow, "DELETED", headers=team_b)
    assert deleted["status"] == "succeeded" and client.get(f"{PLAYBOOKS}/team-b-fix").json["enabled"] is False
    # The resource is gone, the workflow still team-b's: team-a cannot pick it up.
    before = catalog_dump(db)
    claimed, _ = push(playbook_schema(workflow_id="team-b-fix", version="3.0.0"))
    assert attack(client, team_a, "team-b-fix", "ADDED", claimed, version="3.0.0")["status"] == "failed"
    assert catalog_dump(db) == before
    assert client.get(f"{PLAYBOOKS}/team-b-fix").json["owner"]["namespace"] == "team-b"


def test_only_an_admin_key_without_limits_moves_the_owner_audited(
    client: ApiClient, push: Push, db: Any, team_a: dict[str, str], team_b_workflow: dict[str, Any],
) -> None:
    move = {"owner": {"kind": "resource", "cluster": "default", "namespace": "team-a"}, "reason": "team-a took over"}
    before = catalog_dump(db)
    for key in (bearer("catalog:write"), bearer("admin", namespaces=["team-a"]), bearer("admin", cluster="default"),
                bearer("admin", namespaces=["team-a", "team-b"], cluster="default")):
        refused = client.patch(f"{PLAYBOOKS}/team-b-fix", move, scopes=None, headers=key)
        assert refused.status == 403 and problem_type(refused) == "forbidden", refused
    assert catalog_dump(db) == before

    admin = bearer("admin")
    moved = client.patch(f"{PLAYBOOKS}/team-b-fix", move, scopes=None, headers=admin)
    assert moved.status == 200 and moved.json["owner"] == move["owner"]
    [change] = client.get(f"{PLAYBOOKS}/team-b-fix/versions").json["workflow_changes"]
    assert (change["field"], change["from"], change["to"], change["reason"], change["changed_by"]) == (
        "owner", "resource:default/team-b", "resource:default/team-a", "team-a took over", key_id_of(admin))
    # Now team-a's resources write it, and team-b's no longer do.
    newer, _ = push(playbook_schema(workflow_id="team-b-fix", version="2.0.0"))
    assert attack(client, team_a, "team-b-fix", "ADDED", newer, version="2.0.0")["status"] == "succeeded"
    _, refused_now = register(client, team_b_workflow, "DELETED", headers=bearer(*WATCHER, namespaces=["team-b"]))
    assert refused_now["error"]["type"] == "WorkflowOwnedElsewhere"
    # To the API: REST may write it again; bad owners are 400s.
    to_api = client.patch(f"{PLAYBOOKS}/team-b-fix", {"owner": {"kind": "api"}, "reason": "back to ops"},
                          scopes=None, headers=admin)
    assert to_api.status == 200 and to_api.json["owner"] == {"kind": "api"}
    assert client.post(PLAYBOOKS, workflow("4.0.0", workflow_id="team-b-fix"), scopes=("catalog:write",)).status == 201
    for bad, path in (({"kind": "resource", "namespace": "team-a"}, "$.owner.cluster"),
                      ({"kind": "api", "namespace": "team-a"}, "$.owner.namespace"),
                      ({"kind": "resource", "cluster": "Not_A_Label", "namespace": "team-a"}, "$.owner.cluster"),
                      ({"kind": "someone"}, "$.owner.kind")):
        invalid = client.patch(f"{PLAYBOOKS}/team-b-fix", {"owner": bad, "reason": "r"}, scopes=None, headers=admin)
        assert invalid.status == 400 and path in [e["path"] for e in invalid.json["errors"]], invalid


def test_limited_keys_change_only_what_their_limits_own(
    client: ApiClient, db: Any, team_b_workflow: dict[str, Any], rest_workflow: str,
) -> None:
    team_a_writer = bearer("catalog:write", namespaces=["team-a"])
    before = catalog_dump(db)
    for path, body in ((f"{PLAYBOOKS}/team-b-fix", {"enabled": False, "reason": "r"}),
                       (f"{PLAYBOOKS}/{rest_workflow}", {"approval_required": True, "reason": "r"}),
                       (f"{PLAYBOOKS}/team-b-fix/versions/1.0.0", {"status": "deprecated", "reason": "r"})):
        refused = client.patch(path, body, scopes=None, headers=team_a_writer)
        assert refused.status == 403 and problem_type(refused) == "forbidden", refused
    refused = client.post(f"{PLAYBOOKS}/team-b-fix/rollback", {"to_version": "1.0.0", "reason": "r"}, scopes=None,
                          headers=team_a_writer)
    assert refused.status == 403
    created = client.post(PLAYBOOKS, workflow(workflow_id="team-a-made"), scopes=None, headers=team_a_writer)
    assert created.status == 403  # it would be the API's, beyond team-a
    assert catalog_dump(db) == before
    # team-b's own writer may; a key without limits may (an operator's override, audited).
    team_b_writer = bearer("catalog:write", namespaces=["team-b"])
    assert client.patch(f"{PLAYBOOKS}/team-b-fix", {"enabled": False, "reason": "r"}, scopes=None,
                        headers=team_b_writer).status == 200
    assert client.patch(f"{PLAYBOOKS}/team-b-fix", {"enabled": True, "reason": "override"},
                        scopes=("catalog:write",)).status == 200


def test_concurrent_registrations_from_two_origins_leave_one_owner(client: ApiClient, push: Push, db: Any) -> None:
    """Both jobs race to create the same new workflow; the owner check sits under the row lock, so exactly one
    writes and the other changes nothing."""
    keys = {ns: bearer(*WATCHER, namespaces=[ns]) for ns in ("team-a", "team-b")}
    images = {ns: push(playbook_schema(workflow_id="contested", version=f"1.0.{i}"))[0]
              for i, ns in enumerate(keys)}
    accepted: dict[str, str] = {}

    def deliver(ns: str) -> None:
        obj = rw(images[ns], name="contested", namespace=ns, version=f"1.0.{list(keys).index(ns)}")
        answer = client.post("/api/v1/registrations", event("ADDED", obj), scopes=None, headers=keys[ns])
        accepted[ns] = answer.json["registration_id"]

    threads = [threading.Thread(target=deliver, args=(ns,)) for ns in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for_jobs()
    outcomes = {ns: client.get(f"/api/v1/registrations/{rid}").json for ns, rid in accepted.items()}
    winners = [ns for ns, done in outcomes.items() if done["status"] == "succeeded"]
    assert len(winners) == 1, outcomes
    [loser] = set(keys) - set(winners)
    assert outcomes[loser]["error"]["type"] == "WorkflowOwnedElsewhere"
    body = client.get(f"{PLAYBOOKS}/contested").json
    assert body["owner"]["namespace"] == winners[0] and body["source"]["namespace"] == winners[0]
    assert [v["version"] for v in body["versions"]] == [f"1.0.{list(keys).index(winners[0])}"]
    assert services().registrations.get(accepted[loser])["status"] == "failed"
