"""Clusters (README, "Ownership, clusters and key limits"): keys bound to a cluster; registrations, sources, owners
and reconciliation scopes carry the key's cluster, never the body's. Two clusters' watchers share one catalog and
leave each other's workflows alone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib import cli
from chalicelib.container import services
from tests.support.api import ApiClient
from tests.support.keys import bearer
from tests.support.oci import playbook_schema
from tests.support.registrations import catalog_dump, register
from tests.support.resources import event, rw

PLAYBOOKS = "/api/v1/playbooks"
REGISTRATIONS = "/api/v1/registrations"
RECONCILE = "/api/v1/registrations/reconcile"
KEYS = "/api/v1/api-keys"
WATCHER = ("registrations:write", "catalog:read")
Push = Callable[..., tuple[str, str]]


# Sources registered a moment ago are reconciled too.
pytestmark = pytest.mark.usefixtures("no_reconcile_grace")


def live(*objs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{key: o["metadata"][key] for key in ("uid", "namespace", "name", "generation")} for o in objs]


def registered(client: ApiClient, push: Push, key: dict[str, str], name: str, namespace: str = "remediation",
               uid: str | None = None) -> dict[str, Any]:
    image, _ = push(playbook_schema(workflow_id=name))
    obj = rw(image, name=name, namespace=namespace, uid=uid)
    _, done = register(client, obj, headers=key)
    assert done["status"] == "succeeded", done
    return obj


def test_a_key_is_bound_to_a_cluster_over_http_and_shows_it(client: ApiClient) -> None:
    created = client.post(KEYS, {"name": "east watcher", "scopes": list(WATCHER), "cluster": "east"})
    assert created.status == 201 and created.json["cluster"] == "east"
    unbound = client.post(KEYS, {"name": "ops", "scopes": ["catalog:read"]}).json
    listed = {item["key_id"]: item["cluster"] for item in client.get(KEYS).json["items"]}
    assert listed[created.json["key_id"]] == "east" and listed[unbound["key_id"]] is None
    principal = services().api_keys.authenticate(created.json["api_key"])
    assert principal is not None and (principal.cluster, principal.acting_cluster) == ("east", "east")
    for bad in ("East", "east_1", "-east", "e" * 64, ""):
        refused = client.post(KEYS, {"name": "x", "scopes": ["catalog:read"], "cluster": bad})
        assert refused.status == 400 and refused.json["errors"][0]["path"] == "$.cluster", (bad, refused)


def test_the_cli_binds_keys_to_a_cluster(client: ApiClient, db: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "create", "west watcher", *WATCHER, "--cluster", "west", "--namespace", "ops"]) == 0
    token = capsys.readouterr().out.split("token", 1)[1].split()[0]
    principal = services().api_keys.authenticate(token)
    assert principal is not None and principal.cluster == "west" and principal.namespaces == {"ops"}
    assert cli.main(["keys", "list"]) == 0
    assert "west" in capsys.readouterr().out
    before = catalog_dump(db, also=("api_keys",))
    assert cli.main(["keys", "create", "bad", "catalog:read", "--cluster", "Not A Label"]) == 2
    assert "$.cluster" in capsys.readouterr().err
    assert catalog_dump(db, also=("api_keys",)) == before


def test_registrations_sources_and_owners_carry_the_keys_cluster(client: ApiClient, push: Push) -> None:
    east = bearer(*WATCHER, cluster="east")
    obj = registered(client, push, east, "east-fix")
    body = client.get(f"{PLAYBOOKS}/east-fix").json
    assert body["owner"] == {"kind": "resource", "cluster": "east", "namespace": "remediation"}
    assert body["source"]["cluster"] == "east"
    assert client.get(f"{PLAYBOOKS}/east-fix/versions/1.0.0").json["source"]["cluster"] == "east"
    # A key bound to no cluster acts as cluster "default".
    registered(client, push, bearer(*WATCHER), "default-fix")
    assert client.get(f"{PLAYBOOKS}/default-fix").json["owner"]["cluster"] == "default"
    # The cluster is never taken from the body.
    sneaky = client.post(REGISTRATIONS, {**event("ADDED", obj), "cluster": "west"}, scopes=None, headers=east)
    assert sneaky.status == 400 and sneaky.json["errors"][0]["path"] == "$.cluster"


def test_the_registration_shows_its_cluster(client: ApiClient, push: Push) -> None:
    image, _ = push(playbook_schema(workflow_id="shown"))
    _, done = register(client, rw(image, name="shown"), headers=bearer(*WATCHER, cluster="north"))
    assert done["cluster"] == "north" and done["status"] == "succeeded"


def test_two_clusters_watchers_reconciling_every_namespace_leave_each_other_alone(
    client: ApiClient, push: Push, db: Any,
) -> None:
    east, west = bearer(*WATCHER, cluster="east"), bearer(*WATCHER, cluster="west")
    # The same namespace name in both clusters: only the cluster tells them apart.
    east_objs = [registered(client, push, east, f"east-{i}") for i in range(2)]
    west_objs = [registered(client, push, west, f"west-{i}") for i in range(2)]
    before = catalog_dump(db)
    for key, objs in ((east, east_objs), (west, west_objs)):
        answer = client.post(RECONCILE, {"scope": {"namespace": None}, "live": live(*objs)}, scopes=None, headers=key)
        assert answer.status == 200 and answer.json == {"disabled": [], "stale": []}, answer
    assert catalog_dump(db) == before  # was: the second watcher disabled everything the first registered
    # A watcher whose resources are all gone disables its own cluster's workflows only.
    emptied = client.post(RECONCILE, {"scope": {"namespace": None}, "live": []}, scopes=None, headers=west)
    assert emptied.json["disabled"] == ["west-0", "west-1"]
    enabled = {w: client.get(f"{PLAYBOOKS}/{w}").json["enabled"] for w in ("east-0", "east-1", "west-0", "west-1")}
    assert enabled == {"east-0": True, "east-1": True, "west-0": False, "west-1": False}
    # A namespaced reconciliation of the default cluster touches neither.
    default = client.post(RECONCILE, {"scope": {"namespace": "remediation"}, "live": []}, scopes=("admin",))
    assert default.json == {"disabled": [], "stale": []}


def test_another_clusters_delivery_of_the_same_uid_neither_stands_in_for_nor_hides_the_real_one(
    client: ApiClient, push: Push,
) -> None:
    east, west = bearer(*WATCHER, cluster="east"), bearer(*WATCHER, cluster="west")
    uid = str(uuid.uuid4())
    image, _ = push(playbook_schema(workflow_id="decoy"))
    # West delivers first, naming east's resource uid with a generation east has not reached yet.
    forged_accepted, _ = register(client, rw(image, name="decoy", uid=uid, generation=5), headers=west)
    real = registered(client, push, east, "real-fix", uid=uid)  # was: deduplicated away, never registered
    real_registration = client.post(REGISTRATIONS, event("ADDED", real), scopes=None, headers=east).json
    assert real_registration["registration_id"] != forged_accepted["registration_id"]
    assert client.get(f"{PLAYBOOKS}/real-fix").json["owner"]["cluster"] == "east"
    # East's generation 2, never registered, is stale for east (west's generation 5 is not east's).
    newer = {**live(real)[0], "generation": 2}
    stale = client.post(RECONCILE, {"scope": {"namespace": None}, "live": [newer]}, scopes=None, headers=east)
    assert stale.json == {"disabled": [], "stale": [uid]}
