"""The composite PipelineRun builder (pure) against the Tekton v1 structure check the single-step run uses
(tests/support/tekton.py), and that check's graph rules, which must be able to fail."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.domain.composite import Candidate, StepWorkflow, parse_composition, plan_step, resolve
from chalicelib.domain.composite_pipeline_run import build_composite_pipeline_run
from chalicelib.domain.pipeline_run import build_secret
from tests.support import tekton
from tests.support.composites import COMPOSITE_PARAMETERS, STEP_SCHEMAS, VERSIONS, composite, image

VALUES = {"NAMESPACE": "shop", "DEPLOYMENT": "checkout", "REPLICAS": 4, "NOTIFY_TOKEN": "xoxb-unicorn-42"}


def build(values: dict[str, Any] | None = None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run of tests/support/composites.py's composite, resolved against its step workflows' active versions."""
    body = body or composite()
    composition, errors = parse_composition(body, body["parameters"])
    assert errors == []
    values = VALUES if values is None else values
    planned = []
    for step in composition.all_steps:
        active = [Candidate(v, image(step.workflow_id, v), STEP_SCHEMAS[step.workflow_id], step.workflow_id)
                  for v, status in VERSIONS[step.workflow_id] if status == "active"]
        resolved = resolve(step, StepWorkflow(step.workflow_id, True, True, active), body["workflow_id"])
        step_plan, problems = plan_step(resolved, body["parameters"], values)
        assert problems == []
        planned.append(step_plan)
    return build_composite_pipeline_run(execution_id=str(uuid.uuid4()), workflow_id=body["workflow_id"],
                                        version=body["version"], schema=body["parameters"], values=values,
                                        steps=planned, incident_id="INC-9")


def tasks(run: dict[str, Any], key: str = "tasks") -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in run["spec"]["pipelineSpec"].get(key, [])}


def test_the_run_is_a_valid_tekton_v1_pipeline_run() -> None:
    run = build()
    assert tekton.problems(run) == []
    assert run["metadata"]["labels"]["kubernaut.ai/workflow-id"] == "scale-and-verify"


def test_one_task_per_step_named_as_the_step_running_its_resolved_image() -> None:
    run = build()
    images = {name: task["taskSpec"]["steps"][0]["image"] for name, task in {**tasks(run), **tasks(run, "finally")}.items()}
    assert images == {
        "scale-out": image("scale-deployment", "1.3.0"),  # ^1.2.0: the highest active 1.x, not 2.0.0 nor draft 1.4.0
        "snapshot": image("verify-rollout", "1.0.0"),
        "verify": image("verify-rollout", "1.1.0"),
        "undo": image("rollback-deployment", "2.1.0"),  # ^2.0.0, not 3.0.0
    }
    assert all(tekton.is_digest_pinned(i) for i in images.values())
    labels = tasks(run)["scale-out"]["taskSpec"]["metadata"]["labels"]
    assert labels == {"kubernaut.ai/workflow-id": "scale-deployment", "kubernaut.ai/workflow-version": "1.3.0"}


def test_run_after_orders_and_independent_steps_run_in_parallel() -> None:
    run_after = {name: task.get("runAfter") for name, task in tasks(build()).items()}
    assert run_after == {"scale-out": None, "snapshot": None, "verify": ["scale-out"]}


@pytest.mark.parametrize(("when", "guard"), [
    ("failed", [{"input": "$(tasks.status)", "operator": "in", "values": ["Failed"]}]),
    ("succeeded", [{"input": "$(tasks.status)", "operator": "in", "values": ["Succeeded", "Completed"]}]),
    ("always", None),
])
def test_finally_tasks_are_guarded_on_the_pipeline_status(when: str, guard: Any) -> None:
    body = composite()
    body["finally"][0]["when"] = when
    run = build(body=body)
    assert tekton.problems(run) == []
    undo = tasks(run, "finally")["undo"]
    assert undo.get("when") == guard
    assert "runAfter" not in undo


def test_each_step_sees_its_parameters_as_env_vars_of_the_same_names() -> None:
    run = build()
    assert tekton.task_environment(run, "scale-out") == {"NAMESPACE": "shop", "DEPLOYMENT": "checkout",
                                                         "REPLICAS": "4"}
    assert tekton.task_environment(run, "snapshot") == {"NAMESPACE": "shop", "DEPLOYMENT": "checkout",
                                                        "TIMEOUT_SECONDS": "30"}  # a literal of the composite
    assert tekton.task_environment(run, "verify") == {"NAMESPACE": "shop", "DEPLOYMENT": "checkout",
                                                      "TIMEOUT_SECONDS": "300"}  # the step's own default
    # The composite's writeOnly parameter reaches the step wired to it from the execution's Secret only.
    secret_ref = tekton.task_environment(run, "undo")["NOTIFY_TOKEN"]
    assert secret_ref.startswith("secretKeyRef:kubernaut-exec-") and secret_ref.endswith("/NOTIFY_TOKEN")
    secret = build_secret(run["metadata"]["labels"]["kubernaut.ai/execution-id"], COMPOSITE_PARAMETERS,
                          {"NOTIFY_TOKEN": "xoxb-unicorn-42"})
    assert tekton.task_environment(run, "undo", secret) == {"NAMESPACE": "shop", "DEPLOYMENT": "checkout",
                                                            "NOTIFY_TOKEN": "xoxb-unicorn-42"}


def test_every_value_appears_once_in_spec_params_and_no_write_only_value_anywhere() -> None:
    run = build()
    text = json.dumps(run)
    for value in ("shop", "checkout"):
        assert text.count(f'"{value}"') == 1
    elsewhere = copy.deepcopy(run)
    del elsewhere["spec"]["params"]
    assert '"shop"' not in json.dumps(elsewhere)
    assert "xoxb-unicorn-42" not in text  # writeOnly: only in the execution's Secret


def test_an_optional_parameter_not_given_reaches_no_step() -> None:
    run = build(values={k: v for k, v in VALUES.items() if k != "NOTIFY_TOKEN"})
    assert tekton.problems(run) == []
    assert "NOTIFY_TOKEN" not in tekton.task_environment(run, "undo")
    assert "NOTIFY_TOKEN" not in {p["name"] for p in run["spec"]["params"]}
    assert COMPOSITE_PARAMETERS["properties"]["NOTIFY_TOKEN"]["writeOnly"] is True


# The graph rules of the check must be able to fail, or the tests above prove nothing.
def _cycle(run: dict[str, Any]) -> None:
    tasks(run)["scale-out"]["runAfter"] = ["verify"]


def _unknown_run_after(run: dict[str, Any]) -> None:
    tasks(run)["verify"]["runAfter"] = ["nope"]


def _run_after_a_finally_task(run: dict[str, Any]) -> None:
    tasks(run)["verify"]["runAfter"] = ["undo"]


def _run_after_in_finally(run: dict[str, Any]) -> None:
    tasks(run, "finally")["undo"]["runAfter"] = ["verify"]


def _status_outside_finally(run: dict[str, Any]) -> None:
    tasks(run)["verify"]["when"] = [{"input": "$(tasks.status)", "operator": "in", "values": ["Failed"]}]


def _unknown_status(run: dict[str, Any]) -> None:
    tasks(run, "finally")["undo"]["when"][0]["values"] = ["failed"]  # Tekton's values are capitalised


def _bad_operator(run: dict[str, Any]) -> None:
    tasks(run, "finally")["undo"]["when"][0]["operator"] = "equals"


def _duplicate_name(run: dict[str, Any]) -> None:
    tasks(run, "finally")["undo"]["name"] = "verify"


def _unknown_metadata_field(run: dict[str, Any]) -> None:
    tasks(run)["verify"]["taskSpec"]["metadata"]["name"] = "x"


def _dangling_task_param(run: dict[str, Any]) -> None:
    tasks(run)["verify"]["params"].append({"name": "GHOST", "value": "$(params.GHOST)"})


@pytest.mark.parametrize("mutate", [_cycle, _unknown_run_after, _run_after_a_finally_task, _run_after_in_finally,
                                    _status_outside_finally, _unknown_status, _bad_operator, _duplicate_name,
                                    _unknown_metadata_field, _dangling_task_param])
def test_checker_catches_broken_pipelines(mutate: Callable[[dict[str, Any]], None]) -> None:
    run = build()
    mutate(run)
    assert tekton.problems(run) != []
