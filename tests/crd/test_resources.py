"""Sample resources pass the CRD's schema; broken fixtures fail it at the right field with a readable message.

The catalog's registration endpoint validates incoming resources against the same openAPIV3Schema with
jsonschema, so these are also the messages an operator gets back from the API.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jsonschema.exceptions import best_match

from tests.support.crd import BROKEN, SAMPLES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _problem(schema: dict[str, Any], resource: dict[str, Any]) -> tuple[str, str] | None:
    error = best_match(jsonschema.Draft7Validator(schema).iter_errors(resource))
    if error is None:
        return None
    return ".".join(str(part) for part in error.absolute_path), error.message


def _expectation(path: Path) -> tuple[str, str]:
    header = dict(re.findall(r"^# (expect-path|expect-message): ?(.*)$", path.read_text(), re.MULTILINE))
    return header["expect-path"], header["expect-message"]


def test_there_are_the_six_example_workflows() -> None:
    names = {path.stem for path in SAMPLES}
    assert {"oomkill-increase-memory", "crashloop-rollback", "node-disk-cleanup", "pvc-expand",
            "certificate-renew", "stuck-rollout-restart"} <= names


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_registers_the_matching_catalog_example(path: Path) -> None:
    resource = yaml.safe_load(path.read_text())
    catalog_example = json.loads((EXAMPLES / f"{resource['metadata']['name']}.json").read_text())
    spec = resource["spec"]
    assert (spec["version"], spec["image"], spec["labels"]) == (
        catalog_example["version"], catalog_example["container_image"], catalog_example["labels"])


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_applies_cleanly(path: Path, schema: dict[str, Any], crd: dict[str, Any]) -> None:
    resource = yaml.safe_load(path.read_text())
    assert resource["apiVersion"] == f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}"
    assert resource["kind"] == crd["spec"]["names"]["kind"]
    assert _problem(schema, resource) is None
    # The CRD's CEL rule (no CEL evaluator here): without spec.workflowId the name must be a workflow id.
    assert "workflowId" in resource["spec"] or DNS_LABEL.match(resource["metadata"]["name"])


COMPOSITES = sorted((Path(__file__).resolve().parents[2] / "examples" / "composites").glob("*.yaml"))


@pytest.mark.parametrize("path", COMPOSITES, ids=lambda p: p.stem)
def test_composite_sample_applies_cleanly_and_keeps_the_cel_rules(path: Path, schema: dict[str, Any]) -> None:
    resource = yaml.safe_load(path.read_text())
    assert _problem(schema, resource) is None
    spec = resource["spec"]
    # The CRD's CEL rules on spec (no CEL evaluator here): exactly one of image and steps; a composite has
    # its own title and description; finally only with steps.
    assert ("image" in spec) != ("steps" in spec)
    assert "title" in spec and "description" in spec
    rules = [rule["rule"] for rule in schema["properties"]["spec"]["x-kubernetes-validations"]]
    assert rules == ["has(self.image) != has(self.steps)",
                     "!has(self.steps) || (has(self.title) && has(self.description))",
                     "!has(self.finally) || has(self.steps)"]


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_resource_fails_at_the_field_that_is_wrong(path: Path, schema: dict[str, Any]) -> None:
    expected_path, expected_message = _expectation(path)
    problem = _problem(schema, yaml.safe_load(path.read_text()))
    assert problem is not None, f"{path.name} passed the schema"
    where, message = problem
    assert where == expected_path
    assert expected_message in message


@pytest.mark.parametrize(
    ("value", "valid"),
    [("critical", True), (["critical", "high"], True), ("*", True), ("", False), ([], False),
     (5, False), (True, False), ([""], False), (["ok", 3], False), ({"a": "b"}, False), ("x" * 129, False)],
)
def test_label_value_is_a_string_or_a_list_of_strings(value: object, valid: bool, schema: dict[str, Any]) -> None:
    value_schema = schema["properties"]["spec"]["properties"]["labels"]["additionalProperties"]
    assert jsonschema.Draft7Validator(value_schema).is_valid(value) is valid


@pytest.mark.parametrize(
    ("image", "valid"),
    [
        ("ghcr.io/acme/fix:1.0.0", True),
        ("127.0.0.1:5000/workflows/oom:v1", True),
        ("localhost:5000/oom@sha256:" + "a" * 64, True),
        ("fix:1.0.0@sha256:" + "0" * 64, True),
        ("registry.example.com/a/b/c_d__e-f:latest", True),
        ("ghcr.io/acme/fix", False),
        ("ghcr.io/acme/fix:", False),
        ("ghcr.io/acme/fix@sha256:" + "A" * 64, False),
        ("ghcr.io/acme/fix:1.0 ", False),
        ("https://ghcr.io/acme/fix:1.0", False),
    ],
)
def test_image_is_a_tag_or_digest_reference(image: str, valid: bool, schema: dict[str, Any]) -> None:
    image_schema = schema["properties"]["spec"]["properties"]["image"]
    assert jsonschema.Draft7Validator(image_schema).is_valid(image) is valid


@pytest.mark.parametrize(
    ("version", "valid"),
    [("1.0.0", True), ("v2.10.3", True), ("1.0.0-rc.1+build.5", True), ("1.0", False), ("1.0.0-01", False),
     ("01.0.0", False), ("1.0.0+", False), ("latest", False)],
)
def test_version_is_semver(version: str, valid: bool, schema: dict[str, Any]) -> None:
    version_schema = schema["properties"]["spec"]["properties"]["version"]
    assert jsonschema.Draft7Validator(version_schema).is_valid(version) is valid
