"""Parsing watcher events: the CRD's openAPIV3Schema and the catalog's own rules decide what is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chalicelib.adapters.crd import openapi_to_json_schema, resource_contract
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.resource import parse_event as parse_with
from tests.support.resources import event, rw


def parse_event(body):
    return parse_with(body, resource_contract())


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "resources").glob("*.yaml"))


def problems(body) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_event(body)
    return {error.path: error.message for error in caught.value.errors}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_resource_is_accepted(path):
    obj = yaml.safe_load(path.read_text())
    obj["metadata"].update(namespace="remediation", uid="3f0c", generation=1)
    parsed = parse_event(event("ADDED", obj)).resource
    assert parsed.workflow_id == obj["spec"].get("workflowId", obj["metadata"]["name"])
    assert parsed.enabled is obj["spec"].get("enabled", True)


def test_normalises_version_and_defaults_workflow_id_to_the_name():
    obj = rw("ghcr.io/acme/fix:1.0.0", name="disk-cleanup", version="v2.1.0")
    parsed = parse_event(event("MODIFIED", obj)).resource
    assert (parsed.workflow_id, parsed.version, parsed.generation) == ("disk-cleanup", "2.1.0", 1)
    assert parsed.labels["severity"] == ["critical", "high"]


def test_crd_rules_are_reported_with_their_paths():
    obj = rw("ghcr.io/Acme/fix", version="1.0", enabled="yes")
    obj["spec"]["labels"]["severity"] = []
    found = problems(event("ADDED", obj))
    assert set(found) == {"$.object.spec.version", "$.object.spec.image", "$.object.spec.enabled",
                          "$.object.spec.labels.severity"}  # fmt: skip


def test_rules_the_api_server_cannot_check_are_checked_here():
    obj = rw("ghcr.io/acme/fix:1.0.0", name="Not_A_Workflow_Id")
    obj["spec"]["labels"]["Business-Unit"] = "payments"
    del obj["metadata"]["uid"]
    obj["kind"] = "Deployment"
    found = problems(event("ADDED", obj))
    assert set(found) == {"$.object.metadata.name", "$.object.spec.labels.Business-Unit",
                          "$.object.metadata.uid", "$.object.kind"}  # fmt: skip


def test_the_envelope_is_checked():
    assert set(problems({"event": "RENAMED", "object": {}, "extra": 1})) == {"$.event", "$.extra", "$.object.spec"}
    assert set(problems({"event": "ADDED"})) == {"$.object"}


def test_openapi_only_keywords_are_mapped():
    field = {"type": "string", "nullable": True, "x-kubernetes-validations": [{"rule": "x"}]}
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": field}}
    assert openapi_to_json_schema(schema) == {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}


def test_crd_pattern_errors_are_explained_in_words_not_regular_expressions():
    obj = rw("ghcr.io/Acme/fix", version="1.0")
    obj["spec"]["labels"]["severity"] = []
    found = problems(event("ADDED", obj))
    for path in ("$.object.spec.image", "$.object.spec.version"):
        assert "does not have the expected format" in found[path] and "^" not in found[path], found[path]
    assert "Container image" in found["$.object.spec.image"]  # the field's own description says what is expected
    assert "non-empty" in found["$.object.spec.labels.severity"]
