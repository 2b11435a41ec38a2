"""A RemediationWorkflow with steps instead of an image: registered without pulling anything, checked as the
API checks a composite, its problems reported on the resource's own fields."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import yaml

from chalicelib.domain.workflows import parse_new_version
from tests.support.api import ApiClient
from tests.support.paths import ROOT
from tests.support.registrations import catalog_dump, wait_for_jobs
from tests.support.resources import event

REGISTRATIONS = "/api/v1/registrations"
EXAMPLE = yaml.safe_load((ROOT / "examples" / "composites" / "oomkill-raise-memory-and-restart.yaml").read_text())
API_BODY = json.loads((ROOT / "examples" / "composites" / "oomkill-raise-memory-and-restart.json").read_text())
STEP_EXAMPLES = ("oomkill-increase-memory", "stuck-rollout-restart", "crashloop-rollback")


def resource(**spec: Any) -> dict[str, Any]:
    obj = copy.deepcopy(EXAMPLE)
    obj["metadata"].update(uid=str(uuid.uuid4()), generation=1, resourceVersion="7")
    obj["spec"].update(spec)
    return obj


def load_step_workflows(client: ApiClient) -> None:
    for workflow_id in STEP_EXAMPLES:
        body = json.loads((ROOT / "examples" / "workflows" / f"{workflow_id}.json").read_text())
        assert client.post("/api/v1/playbooks", body, scopes=("catalog:write",)).status == 201


def register(client: ApiClient, obj: dict[str, Any]) -> dict[str, Any]:
    accepted = client.post(REGISTRATIONS, event("ADDED", obj), scopes=("registrations:write",))
    assert accepted.status == 202, accepted
    wait_for_jobs()
    done = client.get(f"{REGISTRATIONS}/{accepted.json['registration_id']}", scopes=("catalog:read",))
    assert done.status == 200
    result: dict[str, Any] = done.json
    return result


def test_a_composite_resource_registers_the_version_the_api_would_create(client: ApiClient) -> None:
    load_step_workflows(client)
    done = register(client, resource())
    assert done["status"] == "succeeded", done
    assert done["image"] is None and done["image_digest"] is None and done["container_image"] is None
    version = client.get("/api/v1/playbooks/oomkill-raise-memory-and-restart/versions/1.0.0",
                         scopes=("catalog:read",)).json
    assert version["container_image"] is None
    assert [s["workflow_id"] for s in version["steps"]] == ["oomkill-increase-memory", "stuck-rollout-restart"]
    assert version["steps"][1]["run_after"] == ["raise-memory"]
    assert version["finally"][0]["when"] == "failed"
    # The resource and the API body of the example are one workflow: the same content. The resource owns it now, so
    # the body cannot be posted over REST.
    assert parse_new_version(API_BODY).content_hash == version["content_hash"]
    again = client.post("/api/v1/playbooks", API_BODY, scopes=("catalog:write",))
    assert again.status == 409 and again.json["type"].endswith("/workflow-owned-elsewhere")


def test_steps_that_do_not_resolve_fail_the_registration_naming_the_resource_fields(client: ApiClient,
                                                                                    db: Any) -> None:
    load_step_workflows(client)
    before = catalog_dump(db)
    steps = copy.deepcopy(EXAMPLE["spec"]["steps"])
    steps[0]["workflowId"] = "no-such-workflow"
    steps[1]["runAfter"] = ["raise-memory", "nope"]
    done = register(client, resource(steps=steps))
    assert done["status"] == "failed"
    assert done["error"]["type"] == "CompositionInvalid"
    paths = {e["path"] for e in done["error"]["errors"]}
    assert paths == {"spec.steps[1].runAfter[1]"}  # what the resource itself says wrong comes first
    assert "spec.steps[1].runAfter[1]: 'nope' is not a step" in done["error"]["detail"]
    steps[1]["runAfter"] = ["raise-memory"]
    done = register(client, resource(steps=steps, version="1.0.1"))
    assert {e["path"] for e in done["error"]["errors"]} == {"spec.steps[0].workflowId"}
    assert "no workflow 'no-such-workflow' in the catalog" in done["error"]["detail"]
    assert catalog_dump(db) == before


def test_image_and_steps_together_or_steps_without_title_are_refused_at_once(client: ApiClient, db: Any) -> None:
    both = resource(image="ghcr.io/acme/fix:1.0.0")
    untitled = resource()
    del untitled["spec"]["title"]
    for obj, path in ((both, "$.object.spec.image"), (untitled, "$.object.spec.title")):
        response = client.post(REGISTRATIONS, event("ADDED", obj), scopes=("registrations:write",))
        assert response.status == 400, response
        assert [e["path"] for e in response.json["errors"]] == [path]
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM registrations")
        assert cur.fetchone()["n"] == 0
