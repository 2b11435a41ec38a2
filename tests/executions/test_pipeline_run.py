"""The PipelineRun builder (pure) against the Tekton v1 structure, and the checker itself."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest

from chalicelib.domain.pipeline_run import (
    build_pipeline_run,
    build_secret,
    env_value,
    label_value,
    pipeline_run_name,
    secret_name,
)
from tests.support import tekton
from tests.support.executions import KITCHEN_SCHEMA

IMAGE = "ghcr.io/acme/kitchen:1.0.0@sha256:" + "ab" * 32
VALUES = {"NAME": "zebra", "COUNT": 4, "RATIO": 1e-07, "MODE": "safe", "DRY_RUN": True,
          "CHANNEL": "ops-quokka", "TOKEN": "tok-unicorn-99"}


EXECUTION_ID = "0b5f3c0e-8d1a-4a43-9f5e-1d2c3b4a5f60"


def build(values: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    arguments = {"execution_id": EXECUTION_ID, "workflow_id": "kitchen-sink", "version": "1.2.3-rc.1+build.7",
                 "image": IMAGE, "schema": KITCHEN_SCHEMA, "values": VALUES if values is None else values,
                 "incident_id": "INC-77", **overrides}
    return build_pipeline_run(**arguments)


def test_manifest_is_a_valid_tekton_v1_pipeline_run() -> None:
    run = build()
    assert tekton.problems(run) == []
    assert run["apiVersion"] == "tekton.dev/v1" and run["kind"] == "PipelineRun"
    assert all(isinstance(p["value"], str) for p in run["spec"]["params"])


def test_every_parameter_reaches_the_step_as_an_env_var_of_the_same_name() -> None:
    assert tekton.step_environment(build()) == {
        "NAME": "zebra", "COUNT": "4", "RATIO": "0.0000001", "MODE": "safe", "DRY_RUN": "true",
        "CHANNEL": "ops-quokka", "TOKEN": f"secretKeyRef:kubernaut-exec-{EXECUTION_ID}/TOKEN",
    }
    # With the claim's Secret in the namespace, the step sees the writeOnly value too.
    secret = build_secret(EXECUTION_ID, KITCHEN_SCHEMA, {"TOKEN": "tok-unicorn-99"})
    assert tekton.step_environment(build(), secret)["TOKEN"] == "tok-unicorn-99"


def test_write_only_values_are_not_in_the_run_but_in_its_secret() -> None:
    run = build()
    assert "tok-unicorn-99" not in json.dumps(run)  # the run may be shown, stored and logged
    (step,) = run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"]
    assert {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": secret_name(EXECUTION_ID), "key": "TOKEN"}}} in \
        step["env"]
    secret = build_secret(EXECUTION_ID, {"properties": {"PORT": {"type": "integer", "writeOnly": True},
                                                        "TOKEN": {"type": "string", "writeOnly": True}}},
                          {"TOKEN": "tok-unicorn-99", "PORT": 8443.0})
    assert secret == {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                      "metadata": {"name": secret_name(EXECUTION_ID),
                                   "labels": {"app.kubernetes.io/managed-by": "workflow-catalog",
                                              "kubernaut.ai/execution-id": EXECUTION_ID}},
                      "stringData": {"PORT": "8443", "TOKEN": "tok-unicorn-99"}}  # strings, as env values are
    assert tekton.DNS_SUBDOMAIN.match(secret_name(EXECUTION_ID))


def test_the_step_runs_the_digest_pinned_image() -> None:
    run = build()
    (task,) = run["spec"]["pipelineSpec"]["tasks"]
    (step,) = task["taskSpec"]["steps"]
    assert step["image"] == IMAGE and tekton.is_digest_pinned(step["image"])


def test_values_appear_only_in_spec_params() -> None:
    run = build()
    elsewhere = copy.deepcopy(run)
    del elsewhere["spec"]["params"]
    text = json.dumps(elsewhere)
    for value in ("zebra", "ops-quokka", "0.0000001"):
        assert value not in text
        assert json.dumps(run).count(value) == 1


def test_no_undeclared_parameter_anywhere() -> None:
    run = build()
    names = set(VALUES) - {"TOKEN"}  # writeOnly: read from the Secret, no param
    (task,) = run["spec"]["pipelineSpec"]["tasks"]
    (step,) = task["taskSpec"]["steps"]
    assert {p["name"] for p in run["spec"]["params"]} == names
    assert {p["name"] for p in run["spec"]["pipelineSpec"]["params"]} == names
    assert {p["name"] for p in task["params"]} == {p["name"] for p in task["taskSpec"]["params"]} == names
    assert {e["name"] for e in step["env"]} == names | {"TOKEN"}
    assert set(tekton.PARAM_REF.findall(json.dumps(run))) == names


def test_labels_carry_the_ids_as_valid_label_values() -> None:
    execution_id = str(uuid.uuid4())
    run = build(execution_id=execution_id)
    labels = run["metadata"]["labels"]
    assert labels["kubernaut.ai/workflow-id"] == "kitchen-sink"
    assert labels["kubernaut.ai/execution-id"] == execution_id
    assert labels["kubernaut.ai/workflow-version"] == "1.2.3-rc.1_build.7"  # '+' is not allowed in a label value
    assert run["metadata"]["annotations"]["kubernaut.ai/workflow-version"] == "1.2.3-rc.1+build.7"
    assert execution_id in run["metadata"]["name"]


def test_workflow_without_parameters_still_runs_its_image() -> None:
    run = build(values={}, schema={"type": "object"})
    assert tekton.problems(run) == []
    assert tekton.step_environment(run) == {}


@pytest.mark.parametrize(("value", "prop", "expected"), [
    (True, {"type": "boolean"}, "true"),
    (False, {"type": "boolean"}, "false"),
    (0, {"type": "integer"}, "0"),
    (-42, {"type": "integer"}, "-42"),
    (3.0, {"type": "integer"}, "3"),
    (10**30, {"type": "integer"}, "1" + "0" * 30),
    (3.0, {"type": "number"}, "3.0"),
    (0.5, {"type": "number"}, "0.5"),
    (-2.25, {"type": "number"}, "-2.25"),
    (1e-07, {"type": "number"}, "0.0000001"),
    (1.5e21, {"type": "number"}, "1500000000000000000000"),
    (0.1, {"type": "number"}, "0.1"),
    ("512Mi", {"type": "string"}, "512Mi"),
    ("", {"type": "string"}, ""),
    ("safe", {"enum": ["fast", "safe"]}, "safe"),
    (True, {"enum": [True, "x"]}, "true"),
])
def test_environment_value_forms(value: Any, prop: dict[str, Any], expected: str) -> None:
    assert env_value(value, prop) == expected


@pytest.mark.parametrize("version", ["1.0.0", "1.0.0+build.7", "1.0.0-" + "a" * 80, "1.0.0-rc.1+sha.-", "0.0.0+_"])
def test_label_values_are_always_valid(version: str) -> None:
    value = label_value(version)
    assert tekton.LABEL_VALUE.match(value) and len(value) <= 63


def test_run_name_is_a_dns_label_even_for_the_longest_workflow_id() -> None:
    execution_id = str(uuid.uuid4())
    for workflow_id in ("a" * 63, "a" * 25 + "-" + "b" * 37, "x"):
        name = pipeline_run_name(workflow_id, execution_id)
        assert tekton.DNS_LABEL.match(name) and name.endswith(execution_id)


# The checker must be able to fail, or the tests above prove nothing.
def _drop_pipeline_param(run: dict[str, Any]) -> None:
    run["spec"]["pipelineSpec"]["params"].pop()


def _number_value(run: dict[str, Any]) -> None:
    run["spec"]["params"][0]["value"] = 4


def _v1beta1_field(run: dict[str, Any]) -> None:
    run["spec"]["serviceAccountName"] = "default"


def _dangling_step_reference(run: dict[str, Any]) -> None:
    run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]["env"].append({"name": "X", "value": "$(params.X)"})


def _bad_label(run: dict[str, Any]) -> None:
    run["metadata"]["labels"]["kubernaut.ai/workflow-version"] = "1.0.0+build"


def _wrong_api_version(run: dict[str, Any]) -> None:
    run["apiVersion"] = "tekton.dev/v1beta1"


def _secret_ref_without_key(run: dict[str, Any]) -> None:
    env = run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]["env"]
    next(e for e in env if "valueFrom" in e)["valueFrom"]["secretKeyRef"].pop("key")


def _value_and_value_from(run: dict[str, Any]) -> None:
    env = run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]["env"]
    next(e for e in env if "valueFrom" in e)["value"] = "x"


@pytest.mark.parametrize("mutate", [_drop_pipeline_param, _number_value, _v1beta1_field, _dangling_step_reference,
                                    _bad_label, _wrong_api_version, _secret_ref_without_key, _value_and_value_from])
def test_checker_catches_broken_manifests(mutate: Any) -> None:
    run = build()
    mutate(run)
    assert tekton.problems(run)
