"""End to end: kubectl-style changes -> watcher -> the real catalog API -> the real registry -> status.

Real: the catalog API (the Chalice app served on a loopback port, inline registration jobs), the
embedded PostgreSQL, the docker-registry holding the images, HTTP everywhere. Emulated: only the
Kubernetes API server (tests/support/kube_emulator.py says why), because none can run here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from chalicelib.container import services
from chalicelib.stores.db import Database
from tests.support.fake_api import wait_until
from tests.support.kube_emulator import Invalid, KubeEmulator
from tests.support.oci import image, layer, playbook_schema, schema_layer
from tests.support.registrations import catalog_settings
from tests.support.registry import LocalRegistry, oci_registry  # noqa: F401  (session fixture)
from watcher.app import Watcher

NS = "team-a"


@pytest.fixture
def catalog_key(db: Database) -> str:
    _, token = services().api_keys.create("watcher", ["registrations:write", "catalog:read"])
    return token


@pytest.fixture
def run_watcher(kube: tuple[KubeEmulator, str], catalog_api: str, catalog_key: str, key_file: Any,
                start_watcher: Callable[..., Watcher]) -> Callable[..., Watcher]:
    key_file.write_text(catalog_key)

    def run(**kwargs: Any) -> Watcher:
        return start_watcher(kube[1], catalog_api, **kwargs)

    return run


def push_workflow(registry: LocalRegistry, repository: str, workflow_id: str, version: str) -> tuple[str, str]:
    """Pushes an image carrying /playbook-schema.json; returns (tag reference, digest)."""
    digest = registry.pusher.push_image(repository, version, image(
        layer({"usr/local/bin/remediate": b"#!/bin/sh\necho fixed\n"}),
        schema_layer(playbook_schema(workflow_id=workflow_id, version=version)),
    ))
    return registry.reference(repository, version), digest


def rw(name: str, image_ref: str, version: str = "1.0.0", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubernaut.ai/v1alpha1", "kind": "RemediationWorkflow",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"version": version, "image": image_ref,
                     "labels": {"signal_type": "OOMKilled", "severity": ["critical", "high"], "environment": "*",
                                "component": "deployment"}, **spec}}


def settled(generation: int) -> Callable[[dict[str, Any]], bool]:
    def check(obj: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        return status.get("observedGeneration") == generation and status.get("phase") in ("Registered", "Failed",
                                                                                          "Disabled")
    return check


def catalog_get(catalog_api: str, key: str, path: str) -> requests.Response:
    return requests.get(catalog_api + path, headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_apply_registers_bad_images_fail_with_the_reason_and_delete_disables(
    kube: tuple[KubeEmulator, str], run_watcher: Callable[..., Watcher], oci_registry: LocalRegistry,  # noqa: F811
    catalog_api: str, catalog_key: str,
) -> None:
    emulator, _ = kube
    reference, digest = push_workflow(oci_registry, "e2e/oom", "oom-e2e", "1.0.0")
    no_schema = oci_registry.pusher.push_image("e2e/no-schema", "1.0.0", image(layer({"bin/x": b"x"})))
    run_watcher()

    emulator.apply(rw("oom-e2e", reference))
    emulator.apply(rw("missing-tag", oci_registry.reference("e2e/oom", "9.9.9"), version="9.9.9"))
    emulator.apply(rw("no-schema", oci_registry.reference("e2e/no-schema", "1.0.0")))

    # `kubectl get rw`: Workflow, Version, Phase, Digest.
    registered = emulator.wait_for(NS, "oom-e2e", settled(1))["status"]
    assert registered["phase"] == "Registered", registered
    assert (registered["workflowId"], registered["catalogVersion"]) == ("oom-e2e", "1.0.0")
    assert registered["imageDigest"] == digest and registered["shortDigest"] == digest[:19]
    ready = registered["conditions"][0]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "Registered")
    playbook = catalog_get(catalog_api, catalog_key, "/api/v1/playbooks/oom-e2e").json()
    assert playbook["enabled"] is True and playbook["container_image"].endswith("@" + digest)

    missing = emulator.wait_for(NS, "missing-tag", settled(1))["status"]
    assert (missing["phase"], missing["conditions"][0]["reason"]) == ("Failed", "ImagePullFailed")
    assert "9.9.9" in missing["message"]
    schemaless = emulator.wait_for(NS, "no-schema", settled(1))["status"]
    assert (schemaless["phase"], schemaless["conditions"][0]["reason"]) == ("Failed", "SchemaMissing")
    assert schemaless["imageDigest"] == no_schema  # resolved before the schema was found missing
    assert catalog_get(catalog_api, catalog_key, "/api/v1/playbooks/no-schema").status_code == 404

    emulator.delete(NS, "oom-e2e")
    wait_until(lambda: catalog_get(catalog_api, catalog_key, "/api/v1/playbooks/oom-e2e").json()["enabled"] is False)


def test_a_resource_the_crd_rejects_never_reaches_the_watcher(kube: tuple[KubeEmulator, str]) -> None:
    emulator, _ = kube
    with pytest.raises(Invalid, match=r"spec\.version"):
        emulator.apply(rw("bad-version", "ghcr.io/acme/fix:1.0", version="1.0"))


def test_watcher_restarts_lose_nothing_and_register_nothing_twice(
    kube: tuple[KubeEmulator, str], run_watcher: Callable[..., Watcher], oci_registry: LocalRegistry,  # noqa: F811
    db: Database,
) -> None:
    emulator, _ = kube
    v1, _ = push_workflow(oci_registry, "e2e/crash", "crash-e2e", "1.0.0")
    v2, digest2 = push_workflow(oci_registry, "e2e/crash", "crash-e2e", "1.1.0")
    other, _ = push_workflow(oci_registry, "e2e/disk", "disk-e2e", "1.0.0")

    first = run_watcher()
    emulator.apply(rw("crash-e2e", v1))
    emulator.wait_for(NS, "crash-e2e", lambda o: (o.get("status") or {}).get("registrationId"))
    first.stop(grace_seconds=5)  # stopped mid-registration, or just after it: either must be safe

    # While no watcher runs: a spec change, a new resource, and the watch history is compacted.
    emulator.apply(rw("crash-e2e", v2, version="1.1.0"))
    emulator.apply(rw("disk-e2e", other))
    emulator.compact()

    run_watcher()
    crash = emulator.wait_for(NS, "crash-e2e", settled(2))["status"]
    assert (crash["phase"], crash["catalogVersion"], crash["imageDigest"]) == ("Registered", "1.1.0", digest2)
    assert emulator.wait_for(NS, "disk-e2e", settled(1))["status"]["phase"] == "Registered"

    with db.reading() as cur:
        cur.execute("SELECT resource_uid, generation, event, status FROM registrations ORDER BY created_at")
        deliveries = cur.fetchall()
        cur.execute("SELECT workflow_id, version FROM workflow_versions ORDER BY workflow_id, version")
        versions = [(row["workflow_id"], row["version"]) for row in cur.fetchall()]
    keys = [(row["resource_uid"], row["generation"], row["event"]) for row in deliveries]
    assert len(keys) == len(set(keys)) == 3  # crash gen 1, crash gen 2, disk gen 1: one delivery each
    assert all(row["status"] == "succeeded" for row in deliveries)
    assert versions == [("crash-e2e", "1.0.0"), ("crash-e2e", "1.1.0"), ("disk-e2e", "1.0.0")]


def test_status_write_failure_is_retried_without_a_second_registration(
    kube: tuple[KubeEmulator, str], run_watcher: Callable[..., Watcher], oci_registry: LocalRegistry,  # noqa: F811
    db: Database,
) -> None:
    emulator, _ = kube
    reference, _ = push_workflow(oci_registry, "e2e/pvc", "pvc-e2e", "1.0.0")
    emulator.fail_status_patches = True  # the catalog accepts the delivery, then the status write fails
    watcher = run_watcher()
    emulator.apply(rw("pvc-e2e", reference))
    wait_until(lambda: any(method == "PATCH" for method, _ in emulator.requests))
    watcher.stop(grace_seconds=5)  # a crash before the Pending status was stored

    emulator.fail_status_patches = False
    run_watcher()
    assert emulator.wait_for(NS, "pvc-e2e", settled(1))["status"]["phase"] == "Registered"
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM registrations")
        assert cur.fetchone()["n"] == 1  # the re-sent delivery found the first one's registration



def test_watch_namespace_limits_the_watcher_to_one_namespace(
    kube: tuple[KubeEmulator, str], run_watcher: Callable[..., Watcher], oci_registry: LocalRegistry,  # noqa: F811
) -> None:
    emulator, _ = kube
    reference, _ = push_workflow(oci_registry, "e2e/cert", "cert-e2e", "1.0.0")
    run_watcher(namespace="team-b")
    emulator.apply(rw("cert-e2e", reference))  # in team-a
    elsewhere = rw("cert-e2e", reference)
    elsewhere["metadata"]["namespace"] = "team-b"
    emulator.apply(elsewhere)
    assert emulator.wait_for("team-b", "cert-e2e", settled(1))["status"]["phase"] == "Registered"
    assert "status" not in emulator.get(NS, "cert-e2e")
    watched = {path.split("?")[0] for method, path in emulator.requests if method == "GET"}
    assert watched == {"/apis/kubernaut.ai/v1alpha1/namespaces/team-b/remediationworkflows"}


@pytest.fixture
def no_reconcile_grace() -> Iterator[None]:
    """The catalog reconciles sources registered a moment ago too (the test registers them just before)."""
    with catalog_settings(RECONCILE_GRACE_SECONDS="0"):
        yield


def test_a_resource_deleted_while_no_watcher_ran_is_disabled_by_the_next_reconciliation(
    no_reconcile_grace: None, kube: tuple[KubeEmulator, str], run_watcher: Callable[..., Watcher],
    oci_registry: LocalRegistry, catalog_api: str, catalog_key: str,  # noqa: F811
) -> None:
    from chalicelib.domain.workflows import parse_new_version
    from tests.support.catalog import workflow

    emulator, _ = kube
    gone, _ = push_workflow(oci_registry, "e2e/gone", "gone-e2e", "1.0.0")
    kept, _ = push_workflow(oci_registry, "e2e/kept", "kept-e2e", "1.0.0")
    first = run_watcher()
    emulator.apply(rw("gone-e2e", gone))
    emulator.apply(rw("kept-e2e", kept))
    emulator.wait_for(NS, "gone-e2e", settled(1))
    emulator.wait_for(NS, "kept-e2e", settled(1))
    first.stop(grace_seconds=5)
    services().workflows.create_version(parse_new_version(workflow(workflow_id="rest-made")), "operator")

    emulator.delete(NS, "gone-e2e")  # while no watcher runs: its DELETED event is never seen
    run_watcher(resync_seconds=1)

    def enabled(workflow_id: str) -> bool:
        return bool(catalog_get(catalog_api, catalog_key, f"/api/v1/playbooks/{workflow_id}").json()["enabled"])

    wait_until(lambda: not enabled("gone-e2e"))
    assert enabled("kept-e2e") and enabled("rest-made")
    history = catalog_get(catalog_api, catalog_key, "/api/v1/playbooks/gone-e2e/versions").json()
    [change] = history["workflow_changes"]
    assert (change["from"], change["to"]) == ("true", "false")
    assert f"{NS}/gone-e2e" in change["reason"] and "reconciliation" in change["reason"]
    source = catalog_get(catalog_api, catalog_key, "/api/v1/playbooks/kept-e2e").json()["source"]
    assert (source["namespace"], source["name"], source["generation"]) == (NS, "kept-e2e", 1)
