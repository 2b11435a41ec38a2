"""POST /api/v1/registrations/reconcile against the real database, registry and registration jobs.

The catalog records where each registered workflow comes from; reconciliation disables the ones whose
resource is gone from the watcher's scope, names the generations it never registered, never touches
workflows created over REST, and never enables anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg2
import pytest

from chalicelib.container import services
from chalicelib.domain.workflows import parse_new_version
from tests.support.api import ApiClient
from tests.support.catalog import problem_type, workflow
from tests.support.oci import playbook_schema
from tests.support.registrations import catalog_dump, catalog_settings, wait_for_jobs
from tests.support.resources import event, rw

RECONCILE = "/api/v1/registrations/reconcile"
PLAYBOOKS = "/api/v1/playbooks"
WRITE = ("registrations:write",)


# Sources registered a moment ago are reconciled too.
pytestmark = pytest.mark.usefixtures("no_reconcile_grace")


@pytest.fixture
def register(client: ApiClient, push: Callable[..., tuple[str, str]]) -> Callable[..., dict[str, Any]]:
    """Registers a workflow from a resource (through the invoke endpoint and the job); returns the resource."""

    def run(name: str, namespace: str = "remediation", generation: int = 1, image: str | None = None,
            **changes: Any) -> dict[str, Any]:
        reference = image or push(playbook_schema(workflow_id=name))[0]
        obj = rw(reference, name=name, generation=generation, **changes)
        obj["metadata"]["namespace"] = namespace
        accepted = client.post("/api/v1/registrations", event("ADDED", obj), scopes=WRITE)
        assert accepted.status == 202, accepted
        wait_for_jobs()
        done = client.get(f"/api/v1/registrations/{accepted.json['registration_id']}").json
        assert done["status"] == "succeeded", done
        return obj

    return run


def live(*objs: dict[str, Any], generation: int | None = None) -> list[dict[str, Any]]:
    return [{"uid": o["metadata"]["uid"], "namespace": o["metadata"]["namespace"], "name": o["metadata"]["name"],
             "generation": generation or o["metadata"]["generation"]} for o in objs]


def enabled(client: ApiClient, workflow_id: str) -> bool:
    return bool(client.get(f"{PLAYBOOKS}/{workflow_id}").json["enabled"])


def test_the_source_of_a_registered_workflow_is_recorded_and_shown(client: ApiClient, register: Callable) -> None:
    obj = register("oom-fix", generation=3)
    body = client.get(f"{PLAYBOOKS}/oom-fix").json
    assert {k: body["source"][k] for k in ("uid", "namespace", "name", "generation")} == {
        "uid": obj["metadata"]["uid"], "namespace": "remediation", "name": "oom-fix", "generation": 3}
    version = client.get(f"{PLAYBOOKS}/oom-fix/versions/1.0.0").json
    assert version["source"]["uid"] == obj["metadata"]["uid"]
    services().workflows.create_version(parse_new_version(workflow(workflow_id="rest-made")), "operator")
    assert client.get(f"{PLAYBOOKS}/rest-made").json["source"] is None


def test_workflows_whose_resource_is_gone_are_disabled_with_the_reason(client: ApiClient, register: Callable) -> None:
    kept, gone = register("kept"), register("gone")
    services().workflows.create_version(parse_new_version(workflow(workflow_id="rest-made")), "operator")
    answer = client.post(RECONCILE, {"scope": {"namespace": "remediation"}, "live": live(kept)}, scopes=WRITE)
    assert answer.status == 200, answer
    assert answer.json == {"disabled": ["gone"], "stale": []}
    assert not enabled(client, "gone") and enabled(client, "kept") and enabled(client, "rest-made")
    [change] = client.get(f"{PLAYBOOKS}/gone/versions").json["workflow_changes"]
    assert (change["from"], change["to"]) == ("true", "false")
    assert f"remediation/gone (uid {gone['metadata']['uid']})" in change["reason"]
    assert "reconciliation" in change["reason"]
    # Again: nothing left to disable, and disabled workflows stay disabled (never enabled by reconciling).
    again = client.post(RECONCILE, {"scope": {"namespace": "remediation"}, "live": live(kept, gone)}, scopes=WRITE)
    assert again.json == {"disabled": [], "stale": []} and not enabled(client, "gone")


def test_generations_never_registered_come_back_stale(client: ApiClient, register: Callable) -> None:
    known = register("known")
    unknown = {"uid": "never-seen", "namespace": "remediation", "name": "new-one", "generation": 1}
    answer = client.post(RECONCILE, {"scope": {"namespace": "remediation"},
                                     "live": [*live(known, generation=2), unknown]}, scopes=WRITE)
    assert answer.json == {"disabled": [], "stale": sorted([known["metadata"]["uid"], "never-seen"])}
    same = client.post(RECONCILE, {"scope": {"namespace": "remediation"}, "live": live(known)}, scopes=WRITE)
    assert same.json["stale"] == []


def test_a_generation_is_an_int64_whatever_json_form_it_takes(client: ApiClient) -> None:
    """353.0 is an integer to JSON Schema (was a 500); beyond int64 is refused (was a 500 from the bigint column)."""
    resource = {"uid": "u-1", "namespace": "remediation", "name": "a"}
    answer = client.post(RECONCILE, {"scope": {"namespace": None}, "live": [{**resource, "generation": 353.0}]},
                         scopes=WRITE)
    assert (answer.status, answer.json) == (200, {"disabled": [], "stale": ["u-1"]})
    huge = client.post(RECONCILE, {"scope": {"namespace": None}, "live": [{**resource, "generation": 2**63}]},
                       scopes=WRITE)
    assert huge.status == 400 and huge.json["errors"][0]["path"] == "$.live[0].generation"


def test_a_namespace_scope_touches_only_that_namespace(client: ApiClient, register: Callable) -> None:
    register("here", namespace="team-a")
    register("there", namespace="team-b")
    answer = client.post(RECONCILE, {"scope": {"namespace": "team-a"}, "live": []}, scopes=WRITE)
    assert answer.json["disabled"] == ["here"] and enabled(client, "there")
    everything = client.post(RECONCILE, {"scope": {"namespace": None}, "live": []}, scopes=WRITE)
    assert everything.json["disabled"] == ["there"]


def test_a_key_limited_to_namespaces_reconciles_and_registers_only_those(
    client: ApiClient, register: Callable, push: Callable[..., tuple[str, str]], db: Any,
) -> None:
    register("theirs", namespace="team-b")
    _, token = services().api_keys.create("team-a watcher", ["registrations:write", "catalog:read"], ["team-a"])
    auth = {"Authorization": f"Bearer {token}"}
    before = catalog_dump(db)
    for scope in ({"namespace": "team-b"}, {"namespace": None}):
        refused = client.post(RECONCILE, {"scope": scope, "live": []}, scopes=None, headers=auth)
        assert refused.status == 403 and problem_type(refused) == "forbidden"
    reference, _ = push(playbook_schema(workflow_id="sneaky"))
    other = rw(reference, name="sneaky")
    other["metadata"]["namespace"] = "team-b"
    assert client.post("/api/v1/registrations", event("ADDED", other), scopes=None, headers=auth).status == 403
    assert catalog_dump(db) == before and enabled(client, "theirs")
    assert client.post(RECONCILE, {"scope": {"namespace": "team-a"}, "live": []}, scopes=None,
                       headers=auth).status == 200


def test_a_source_registered_within_the_grace_period_is_left_to_the_next_round(
    client: ApiClient, register: Callable,
) -> None:
    register("just-now")
    with catalog_settings(RECONCILE_GRACE_SECONDS="3600"):
        answer = client.post(RECONCILE, {"scope": {"namespace": "remediation"}, "live": []}, scopes=WRITE)
    assert answer.json["disabled"] == [] and enabled(client, "just-now")


def test_a_registration_racing_a_reconciliation_loses_no_enable(
    client: ApiClient, register: Callable, database_url: str,
) -> None:
    """The resource was deleted and created again (new uid): its registration commits while the reconciliation
    waits for the workflow's row; the reconciliation then sees the new source, live, and leaves it enabled."""
    register("comes-back")
    new_uid = "uid-of-the-new-resource"
    registration = psycopg2.connect(database_url)
    with registration.cursor() as cur:  # the registration job's transaction, holding the workflow row
        cur.execute("SELECT 1 FROM workflows WHERE workflow_id = 'comes-back' FOR UPDATE")
        cur.execute("UPDATE workflows SET source_uid = %s, source_generation = 1, source_registered_at = "
                    "now() - interval '1 hour', enabled = true WHERE workflow_id = 'comes-back'", (new_uid,))
        answers: list[Any] = []
        racing = threading.Thread(target=lambda: answers.append(client.post(RECONCILE, {
            "scope": {"namespace": "remediation"},
            "live": [{"uid": new_uid, "namespace": "remediation", "name": "comes-back", "generation": 1}]},
            scopes=WRITE)))
        racing.start()
        racing.join(timeout=1.0)
        assert racing.is_alive()  # the reconciliation waits for the row
    registration.commit()
    registration.close()
    racing.join(timeout=10)
    assert answers[0].json["disabled"] == []  # (its generation is stale: this test wrote no registration row)
    assert enabled(client, "comes-back")


def test_a_resource_that_comes_back_is_enabled_by_its_registration_not_by_reconciliation(
    client: ApiClient, register: Callable,
) -> None:
    first = register("phoenix")
    assert client.post(RECONCILE, {"scope": {"namespace": "remediation"}, "live": []}, scopes=WRITE).json[
        "disabled"] == ["phoenix"]
    again = register("phoenix", image=first["spec"]["image"])  # same name and image, new uid: a new resource
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    assert enabled(client, "phoenix")
    assert client.get(f"{PLAYBOOKS}/phoenix").json["source"]["uid"] == again["metadata"]["uid"]


@pytest.mark.parametrize(("body", "path"), [
    ({"scope": {"namespace": "team-a"}, "live": [{"uid": "u", "namespace": "team-b", "name": "x", "generation": 1}]},
     "$.live[0].namespace"),
    ({"scope": {"namespace": None}, "live": [{"uid": "u", "namespace": "a", "name": "x", "generation": 1}] * 2},
     "$.live[1].uid"),
    ({"scope": {"namespace": "a"}, "live": [{"uid": "u", "namespace": "a", "name": "x", "generation": 0}]},
     "$.live[0].generation"),
    ({"scope": {}, "live": []}, "$.scope.namespace"),
    ({"scope": {"namespace": "a"}, "live": [], "complete": True}, "$.complete"),
])
def test_bad_requests_are_400s_that_change_nothing(client: ApiClient, register: Callable, db: Any,
                                                   body: dict[str, Any], path: str) -> None:
    register("untouched")
    before = catalog_dump(db)
    answer = client.post(RECONCILE, body, scopes=WRITE)
    assert answer.status == 400 and path in {e["path"] for e in answer.json["errors"]}
    assert catalog_dump(db) == before
