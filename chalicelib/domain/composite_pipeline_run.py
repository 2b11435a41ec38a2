"""Builds the Tekton ``tekton.dev/v1`` PipelineRun of a composite workflow (pure, no I/O).

The same shape and rules as the single-step run (domain/pipeline_run.py), with one pipeline task
per step: an inline ``pipelineSpec`` whose ``tasks`` are the steps (``runAfter`` from
``run_after``; steps with no dependency between them run in parallel) and whose ``finally`` tasks
run after them, guarded by a ``when`` on ``$(tasks.status)``: ``succeeded`` runs when every task
succeeded (Tekton says ``Succeeded``, or ``Completed`` when some were skipped), ``failed`` when
one failed, ``always`` has no guard. Each task is named as its step and runs the step's resolved,
digest-pinned image with its parameters as environment variables of the same names.

Each value still appears exactly once, in ``spec.params``: the composite's own parameters under
their names, and each value a step gets from the composite itself (a literal, or a default of the
step's schema) as ``step-<step>-<NAME>`` (a name no parameter of the composite can have: those are
environment variable names, without '-'). Tasks only refer to them, and no literal is ever subject
to Tekton's substitution. The composite's writeOnly parameters are not in the run at all: a step
they are wired to reads each from the execution's Secret (``secretKeyRef``, key = the composite's
parameter name), as a single-image run does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.composite import ALWAYS, FAILED, SUCCEEDED, PlannedStep
from chalicelib.domain.executions import Target, write_only_names
from chalicelib.domain.pipeline_run import (
    API_VERSION,
    KIND,
    LABEL_PREFIX,
    STEP_NAME,
    add_target,
    env_value,
    label_value,
    param_spec,
    secret_env,
)
from chalicelib.domain.pipeline_run import pipeline_run_name as run_name

# $(tasks.status) in a finally task: Succeeded (all succeeded), Completed (all succeeded, some skipped), Failed.
TASKS_STATUS = "$(tasks.status)"
WHEN_STATUSES: dict[str, list[str]] = {SUCCEEDED: ["Succeeded", "Completed"], FAILED: ["Failed"]}


def step_param_name(step: str, name: str) -> str:
    return f"step-{step}-{name}"


def build_composite_pipeline_run(
    *,
    execution_id: str,
    workflow_id: str,
    version: str,
    schema: Mapping[str, Any],
    values: Mapping[str, Any],
    steps: Sequence[PlannedStep],
    incident_id: str,
    target: Target | None = None,
) -> dict[str, Any]:
    """The PipelineRun for the composite's validated ``values`` and its planned ``steps`` (in order)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    secret = write_only_names(schema)
    names = sorted(name for name in values if name not in secret)
    run_params = {name: env_value(values[name], properties.get(name, {})) for name in names}
    declared = [param_spec(name, properties.get(name, {})) for name in names]
    tasks: list[dict[str, Any]] = []
    final: list[dict[str, Any]] = []
    for planned in steps:
        task, own_values = _task(planned, secret, execution_id)
        for name, value in own_values.items():
            run_params[name] = value
            declared.append({"name": name, "type": "string"})
        (final if planned.resolved.step.is_finally else tasks).append(task)
    pipeline: dict[str, Any] = {"params": declared, "tasks": tasks}
    if final:
        pipeline["finally"] = final
    run: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": run_name(workflow_id, execution_id),
            "labels": {
                "app.kubernetes.io/managed-by": "workflow-catalog",
                f"{LABEL_PREFIX}workflow-id": label_value(workflow_id),
                f"{LABEL_PREFIX}workflow-version": label_value(version),
                f"{LABEL_PREFIX}execution-id": label_value(execution_id),
                f"{LABEL_PREFIX}composite": "true",
            },
            "annotations": {
                f"{LABEL_PREFIX}workflow-version": version,
                f"{LABEL_PREFIX}incident-id": incident_id,
            },
        },
        "spec": {
            "params": [{"name": name, "value": value} for name, value in run_params.items()],
            "pipelineSpec": pipeline,
        },
    }
    if target is not None:
        add_target(run["metadata"], execution_id, target)
    return run


def _task(planned: PlannedStep, secret: frozenset[str], execution_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The pipeline task of one step, and the run params holding the values it does not take from the composite.
    A step parameter wired to one of the composite's writeOnly (``secret``) parameters reads the execution's
    Secret."""
    resolved, step = planned.resolved, planned.resolved.step
    properties: Mapping[str, Any] = resolved.parameters.get("properties", {})
    from_secret = {name: source for name, source in planned.wired.items() if source in secret}
    names = sorted(name for name in planned.values if name not in from_secret)
    own_values: dict[str, str] = {}
    task_params = []
    for name in names:
        if name in planned.wired:
            source = planned.wired[name]
        else:
            source = step_param_name(step.name, name)
            own_values[source] = env_value(planned.values[name], properties.get(name, {}))
        task_params.append({"name": name, "value": f"$(params.{source})"})
    task: dict[str, Any] = {"name": step.name}
    if step.run_after:
        task["runAfter"] = list(step.run_after)
    if step.when is not None and step.when != ALWAYS:
        task["when"] = [{"input": TASKS_STATUS, "operator": "in", "values": WHEN_STATUSES[step.when]}]
    task["params"] = task_params
    task["taskSpec"] = {
        # Carried to the TaskRun and its pod: which catalog workflow version this task runs.
        "metadata": {
            "labels": {f"{LABEL_PREFIX}workflow-id": label_value(resolved.workflow_id),
                       f"{LABEL_PREFIX}workflow-version": label_value(resolved.version)},
            "annotations": {f"{LABEL_PREFIX}workflow-version": resolved.version},
        },
        "params": [{"name": name, "type": "string"} for name in names],
        "steps": [{
            "name": STEP_NAME,
            "image": resolved.container_image,
            "env": [*({"name": name, "value": f"$(params.{name})"} for name in names),
                    *(secret_env(name, source, execution_id) for name, source in sorted(from_secret.items()))],
        }],
    }
    return task, own_values

