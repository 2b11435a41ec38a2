"""Creating composite workflows through the API: what is stored and shown, content identity, and each
validation error alone (400 with its JSON path, nothing written)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.catalog import catalog_snapshot, problem_type
from tests.support.composites import BASE, WRITE, composite, create_composite, create_step_workflows, step_workflow

READ = ("catalog:read",)


@pytest.fixture
def steps_ready(client: ApiClient) -> ApiClient:
    create_step_workflows(client)
    return client


def test_a_composite_is_stored_and_shown_with_its_steps(steps_ready: ApiClient) -> None:
    created = create_composite(steps_ready)
    body = composite()
    assert created["container_image"] is None
    assert [s["name"] for s in created["steps"]] == ["scale-out", "snapshot", "verify"]
    assert created["steps"][2] == {**body["steps"][2]}
    assert created["steps"][0]["run_after"] == []  # defaults are part of the stored form
    assert created["finally"] == [body["finally"][0]]
    version = steps_ready.get(f"{BASE}/scale-and-verify/versions/1.0.0", scopes=READ).json
    workflow = steps_ready.get(f"{BASE}/scale-and-verify", scopes=READ).json
    assert version["steps"] == workflow["steps"] == created["steps"]
    assert version["finally"] == workflow["finally"] == created["finally"]
    single = steps_ready.get(f"{BASE}/verify-rollout/versions/1.0.0", scopes=READ).json
    assert "steps" not in single and single["container_image"]


def test_steps_are_content_identical_again_is_200_other_steps_are_409(steps_ready: ApiClient, db: Any) -> None:
    created = create_composite(steps_ready)
    again = steps_ready.post(BASE, composite(), scopes=WRITE)
    assert again.status == 200 and again.json["content_hash"] == created["content_hash"]
    # The same steps written with their defaults spelt out are the same content.
    explicit = composite()
    explicit["steps"][0]["run_after"] = []
    assert steps_ready.post(BASE, explicit, scopes=WRITE).status == 200
    before = catalog_snapshot(db)
    for change in (lambda b: b["steps"][0].update(version="~1.2.0"), lambda b: b["finally"][0].update(when="always"),
                   lambda b: b["steps"][2].update(run_after=[])):
        other = composite()
        change(other)
        response = steps_ready.post(BASE, other, scopes=WRITE)
        assert response.status == 409 and problem_type(response) == "content-conflict", response
        assert "bump the version" in response.json["detail"]
    assert catalog_snapshot(db) == before
    patch = steps_ready.patch(f"{BASE}/scale-and-verify/versions/1.0.0",
                              {"status": "deprecated", "reason": "x", "steps": []}, scopes=WRITE)
    assert patch.status == 409 and problem_type(patch) == "immutable-field"


def _cycle(body: dict[str, Any]) -> None:
    body["steps"][0]["run_after"] = ["verify"]


def _unknown_workflow(body: dict[str, Any]) -> None:
    body["steps"][1]["workflow_id"] = "no-such-workflow"


def _no_version_in_range(body: dict[str, Any]) -> None:
    body["steps"][0]["version"] = "^3.0.0"


def _draft_only_in_range(body: dict[str, Any]) -> None:
    body["steps"][0]["version"] = "~1.4.0"  # 1.4.0 exists, as a draft


def _missing_required_step_parameter(body: dict[str, Any]) -> None:
    del body["steps"][0]["parameters"]["REPLICAS"]


def _bad_literal(body: dict[str, Any]) -> None:
    body["steps"][1]["parameters"]["TIMEOUT_SECONDS"] = "thirty"


def _bad_when(body: dict[str, Any]) -> None:
    body["finally"][0]["when"] = "sometimes"


def _undeclared_reference(body: dict[str, Any]) -> None:
    body["steps"][0]["parameters"]["REPLICAS"] = "$(params.COUNT)"


def _incompatible_type(body: dict[str, Any]) -> None:
    body["steps"][0]["parameters"]["REPLICAS"] = "$(params.DEPLOYMENT)"


def _duplicate_name(body: dict[str, Any]) -> None:
    body["finally"][0]["name"] = "verify"


def _unknown_run_after(body: dict[str, Any]) -> None:
    body["steps"][2]["run_after"] = ["scale-up"]


def _write_only_leak(body: dict[str, Any]) -> None:
    body["parameters"]["properties"]["NOTIFY_TOKEN"].pop("writeOnly")


def _image_and_steps(body: dict[str, Any]) -> None:
    body["container_image"] = "ghcr.io/acme/x:1@sha256:" + "a" * 64


def _bad_range(body: dict[str, Any]) -> None:
    body["steps"][2]["version"] = "1.x.3"


def _composite_as_step(body: dict[str, Any]) -> None:
    body["steps"][1]["workflow_id"] = "nested"


CASES = {
    "cycle": (_cycle, "$.steps[0].run_after", "run_after makes a cycle: scale-out -> verify -> scale-out"),
    "unknown workflow": (_unknown_workflow, "$.steps[1].workflow_id", "no workflow 'no-such-workflow' in the catalog"),
    "no version in range": (_no_version_in_range, "$.steps[0].version",
                            "has no active version in range '^3.0.0' (active versions: 2.0.0, 1.3.0, 1.2.0)"),
    "only a draft in range": (_draft_only_in_range, "$.steps[0].version", "has no active version in range '~1.4.0'"),
    "missing required step parameter": (_missing_required_step_parameter, "$.steps[0].parameters.REPLICAS",
                                        "is required by scale-deployment 1.3.0"),
    "bad literal": (_bad_literal, "$.steps[1].parameters.TIMEOUT_SECONDS", "must be of type integer"),
    "bad when": (_bad_when, "$.finally[0].when", "must be succeeded, failed or always"),
    "undeclared reference": (_undeclared_reference, "$.steps[0].parameters.REPLICAS", "do not declare"),
    "incompatible type": (_incompatible_type, "$.steps[0].parameters.REPLICAS",
                          "is string, which cannot feed the integer parameter REPLICAS of scale-deployment 1.3.0"),
    "duplicate step name": (_duplicate_name, "$.finally[0].name", "'verify' is already the name of $.steps[2]"),
    "unknown run_after": (_unknown_run_after, "$.steps[2].run_after[0]", "'scale-up' is not a step"),
    "writeOnly fed by a plain parameter": (_write_only_leak, "$.finally[0].parameters.NOTIFY_TOKEN",
                                           "declare NOTIFY_TOKEN writeOnly"),
    "image and steps": (_image_and_steps, "$.steps", "either one container_image or steps"),
    "bad range": (_bad_range, "$.steps[2].version", "is not an npm-style SemVer range"),
    "composite as a step": (_composite_as_step, "$.steps[1].version", "nested 1.0.0 is a composite workflow"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_validation_error_alone(steps_ready: ApiClient, db: Any, case: str) -> None:
    mutate, path, message = CASES[case]
    if case == "composite as a step":
        nested = composite("nested")
        assert steps_ready.post(BASE, nested, scopes=WRITE).status == 201
    body = composite()
    mutate(body)
    before = catalog_snapshot(db)
    response = steps_ready.post(BASE, body, scopes=WRITE)
    assert response.status == 400, response
    assert problem_type(response) == "validation-error"
    errors = {e["path"]: e["message"] for e in response.json["errors"]}
    assert list(errors) == [path], errors
    assert message in errors[path]
    assert catalog_snapshot(db) == before


def test_every_problem_the_catalog_finds_is_listed_at_once(steps_ready: ApiClient) -> None:
    body = composite()
    _unknown_workflow(body)
    _no_version_in_range(body)
    _bad_literal(body)
    body["steps"][1]["workflow_id"] = "verify-rollout"
    body["finally"][0]["workflow_id"] = "gone"
    response = steps_ready.post(BASE, body, scopes=WRITE)
    assert response.status == 400
    assert {e["path"] for e in response.json["errors"]} == {
        "$.steps[0].version", "$.steps[1].parameters.TIMEOUT_SECONDS", "$.finally[0].workflow_id"}


def test_a_disabled_step_workflow_cannot_be_composed(steps_ready: ApiClient) -> None:
    steps_ready.patch(f"{BASE}/verify-rollout", {"enabled": False, "reason": "broken"}, scopes=WRITE)
    response = steps_ready.post(BASE, composite(), scopes=WRITE)
    assert response.status == 400
    assert {e["path"]: e["message"] for e in response.json["errors"]} == {
        "$.steps[1].workflow_id": "step 'snapshot': workflow 'verify-rollout' is disabled",
        "$.steps[2].workflow_id": "step 'verify': workflow 'verify-rollout' is disabled",
    }


def test_a_range_follows_npm_rules_at_create(steps_ready: ApiClient) -> None:
    """A pre-release in range is taken only where the range asks for pre-releases of that version."""
    steps_ready.post(BASE, step_workflow("verify-rollout", "1.2.0-rc.1"), scopes=WRITE)
    body = composite()
    body["steps"][2]["version"] = ">=1.2.0-rc.0 <1.3.0"
    assert steps_ready.post(BASE, body, scopes=WRITE).status == 201
    other = copy.deepcopy(body)
    other.update(version="1.0.1")
    other["steps"][2]["version"] = "^1.1.1"  # 1.2.0-rc.1 is not admitted by a range without a 1.2.0 pre-release
    response = steps_ready.post(BASE, other, scopes=WRITE)
    assert response.status == 400
    assert "no active version in range '^1.1.1'" in response.json["errors"][0]["message"]
