"""End to end: POST a RemediationWorkflow event -> job (in-process dispatcher) -> registry -> catalog -> GET."""

from __future__ import annotations

import json

from tests.support import oci
from tests.support.registrations import READ, REGISTRATIONS, WRITE, catalog_dump, register, wait_for_jobs
from tests.support.resources import event, rw


def test_an_event_registers_the_version_pinned_by_digest(client, push):
    reference, digest = push(oci.playbook_schema())
    accepted, done = register(client, rw(reference, title="Raise the memory limit", labels={
        "signal_type": "OOMKilled", "severity": "critical", "environment": ["production"], "component": "deployment"}))
    assert accepted["status"] in ("pending", "running", "succeeded")
    assert accepted["workflow_id"] == "oomkill-increase-memory" and accepted["version"] == "1.0.0"
    assert done["status"] == "succeeded", done
    assert done["image_digest"] == digest
    assert done["container_image"] == f"{reference}@{digest}"
    assert done["finished_at"] and "error" not in done

    version = client.get("/api/v1/playbooks/oomkill-increase-memory/versions/1.0.0", scopes=READ).json
    assert version["container_image"] == f"{reference}@{digest}"
    assert version["title"] == "Raise the memory limit"  # the resource overrides the file
    assert version["description"] == oci.playbook_schema()["description"]  # the file's default stays
    assert version["labels"]["environment"] == ["production"]
    assert version["parameters"] == oci.playbook_schema()["parameters"]
    assert version["is_latest"] and version["enabled"]

    found = client.get("/api/v1/playbooks/search?query=OOMKilled+memory+limit&signal_type=OOMKilled", scopes=READ)
    assert [hit["workflow_id"] for hit in found.json["results"]] == ["oomkill-increase-memory"]


def test_the_same_delivery_again_returns_the_same_registration_and_queues_nothing(client, push, db):
    reference, _ = push(oci.playbook_schema())
    obj = rw(reference)
    first, _ = register(client, obj)
    again = client.post(REGISTRATIONS, event("ADDED", obj), scopes=WRITE)
    assert again.status == 202
    assert again.json["registration_id"] == first["registration_id"]
    assert again.json["status"] == "succeeded"
    wait_for_jobs()
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n, max(attempts) AS attempts FROM registrations")
        assert cur.fetchone() == {"n": 1, "attempts": 1}
        cur.execute("SELECT count(*) AS n FROM workflow_versions")
        assert cur.fetchone()["n"] == 1

    # A new generation of the same resource is a new delivery; identical content stays one version.
    obj["metadata"]["generation"] = 2
    _, second = register(client, obj, "MODIFIED")
    assert second["registration_id"] != first["registration_id"] and second["status"] == "succeeded"
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM workflow_versions")
        assert cur.fetchone()["n"] == 1


def test_a_resource_that_breaks_the_crd_is_a_400_and_queues_nothing(client, db):
    obj = rw("ghcr.io/acme/fix:1.0.0", version="1.0")
    obj["spec"]["labels"].pop("component")
    response = client.post(REGISTRATIONS, event("ADDED", obj), scopes=WRITE)
    assert response.status == 400
    assert response.content_type.startswith("application/problem+json")
    paths = {error["path"] for error in response.json["errors"]}
    assert paths == {"$.object.spec.version", "$.object.spec.labels.component"}
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM registrations")
        assert cur.fetchone()["n"] == 0


def test_scopes(client):
    obj = rw("ghcr.io/acme/fix:1.0.0")
    assert client.post(REGISTRATIONS, event("ADDED", obj), scopes=READ).status == 403
    assert client.post(REGISTRATIONS, event("ADDED", obj), scopes=None).status == 401
    missing = client.get(f"{REGISTRATIONS}/00000000-0000-0000-0000-000000000000", scopes=READ)
    assert missing.status == 404
    assert client.get(f"{REGISTRATIONS}/not-a-uuid", scopes=READ).status == 404


def _fails(client, db, obj, reason):
    before = catalog_dump(db)
    _, done = register(client, obj)
    assert done["status"] == "failed", done
    assert done["error"]["type"] == reason, done
    assert catalog_dump(db) == before  # byte for byte
    return done["error"]


def test_failures_name_the_reason_and_leave_the_catalog_unchanged(client, push, db):
    # Something in the catalog first, so "unchanged" compares real rows.
    good, _ = push(oci.playbook_schema())
    register(client, rw(good))

    missing, _ = push(None)
    error = _fails(client, db, rw(missing, version="1.1.0"), "SchemaMissing")
    assert "/playbook-schema.json is not in the image" in error["detail"]

    bad = oci.playbook_schema(version="1.2.0")
    bad["parameters"]["properties"]["lowercase"] = {"type": "object"}
    invalid, _ = push(bad)
    error = _fails(client, db, rw(invalid, version="1.2.0"), "SchemaInvalid")
    paths = {item["path"] for item in error["errors"]}
    assert "$.parameters.properties.lowercase" in paths
    assert "$.parameters.properties.lowercase.description" in paths
    assert "every parameter needs a description" in error["detail"]

    nul = oci.playbook_schema(version="1.2.1", description="a\u0000b")
    nul_image, _ = push(nul)
    error = _fails(client, db, rw(nul_image, version="1.2.1"), "SchemaInvalid")
    assert "$.description" in error["detail"] and "NUL" in error["detail"]

    not_json, _ = push(b"{not json")
    assert "not valid UTF-8 JSON" in _fails(client, db, rw(not_json, version="1.3.0"), "SchemaInvalid")["detail"]

    other_version, _ = push(oci.playbook_schema(version="2.0.0"))
    error = _fails(client, db, rw(other_version, version="1.4.0"), "SchemaInvalid")
    assert "is '2.0.0' but the resource's spec.version is '1.4.0'" in error["detail"]

    changed, _ = push(oci.playbook_schema(title="Different content"))
    error = _fails(client, db, rw(changed, title="Different content"), "ContentConflict")
    assert "bump the version" in error["detail"]

    no_tag = good.rsplit(":", 1)[0] + ":9.9.9"
    error = _fails(client, db, rw(no_tag, version="1.5.0"), "ImagePullFailed")
    assert "no tag '9.9.9'" in error["detail"]


def test_deleted_disables_the_workflow_and_keeps_its_history(client, push):
    reference, _ = push(oci.playbook_schema())
    obj = rw(reference)
    register(client, obj)
    _, done = register(client, obj, "DELETED")
    assert done["status"] == "succeeded"
    workflow = client.get("/api/v1/playbooks/oomkill-increase-memory", scopes=READ).json
    assert workflow["enabled"] is False
    assert [v["version"] for v in workflow["versions"]] == ["1.0.0"]
    found = client.get("/api/v1/playbooks/search?signal_type=OOMKilled", scopes=READ).json
    assert found["results"] == []

    # Deleting a resource that never registered anything succeeds and changes nothing.
    _, done = register(client, rw(reference, name="never-registered"), "DELETED")
    assert done["status"] == "succeeded"


def test_spec_enabled_false_registers_the_version_disabled(client, push):
    reference, _ = push(oci.playbook_schema())
    _, done = register(client, rw(reference, enabled=False))
    assert done["status"] == "succeeded"
    workflow = client.get("/api/v1/playbooks/oomkill-increase-memory", scopes=READ).json
    assert workflow["enabled"] is False


def test_the_registration_is_documented_in_openapi(client):
    document = client.get("/api/v1/openapi.json", scopes=READ).json
    assert set(document["paths"][REGISTRATIONS]) == {"post"}
    assert set(document["paths"][REGISTRATIONS + "/{registration_id}"]) == {"get"}
    assert json.dumps(document["components"]["schemas"]["Registration"])


def test_outcomes_are_counted_as_cloudwatch_metrics(client, push, capsys):
    """The registration-failures alarm in infra/ reads these embedded-metric lines."""
    good, _ = push(oci.playbook_schema())
    ok, _ = register(client, rw(good))
    missing, _ = push(None)
    failed, _ = register(client, rw(missing, version="1.1.0"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    counted = {(line.get("registration_id"), name) for line in lines
               for name in ("RegistrationsSucceeded", "RegistrationsFailed") if name in line}
    assert (ok["registration_id"], "RegistrationsSucceeded") in counted
    assert (failed["registration_id"], "RegistrationsFailed") in counted
    assert (failed["registration_id"], "RegistrationsSucceeded") not in counted
