"""Builds the Tekton ``tekton.dev/v1`` PipelineRun that runs one workflow version (pure, no I/O).

Shape: an inline ``pipelineSpec`` with one task whose inline ``taskSpec`` has one step running the
workflow's digest-pinned image. Each parameter value appears exactly once, in ``spec.params``, as a
string; the pipeline hands it to the task (``$(params.X)`` in the pipeline task's params) and the
task to the step's environment variable of the same name (``$(params.X)`` in ``env``). Values
never appear in metadata, names or defaults, so labels and logs cannot leak them.

writeOnly parameters travel the same way: the caller must create this PipelineRun in the cluster,
so the value has to be in it, and the manifest is returned exactly once; the catalog stores only
the redacted values, and an execution waiting for approval its writeOnly values sealed until it is
started (chalicelib/domain/executions.py). A workflow that must keep a secret out of
PipelineRun objects altogether should take the *name* of a Kubernetes Secret as its parameter.

Hand-written rather than built with a Tekton library: the Python SDK on PyPI (tekton-pipeline
0.2.0, 2021) predates tekton.dev/v1, and the manifest is one small dictionary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from chalicelib.domain.executions import Target

API_VERSION = "tekton.dev/v1"
KIND = "PipelineRun"
TASK_NAME = "remediate"
STEP_NAME = "remediate"
LABEL_PREFIX = "kubernaut.ai/"
MAX_LABEL_VALUE = 63
MAX_NAME = 63
# Room left for the workflow id in the run's name: 63 - len("-") - len(uuid) = 26.
NAME_WORKFLOW_PART = MAX_NAME - 1 - 36
_LABEL_INVALID = re.compile(r"[^A-Za-z0-9._-]")
_LABEL_EDGE = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


def build_pipeline_run(
    *,
    execution_id: str,
    workflow_id: str,
    version: str,
    image: str,
    schema: Mapping[str, Any],
    values: Mapping[str, Any],
    incident_id: str,
    target: Target | None = None,
) -> dict[str, Any]:
    """The PipelineRun for validated ``values`` (declared parameters only, defaults applied)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    names = sorted(values)
    spec_params = [{"name": name, "value": env_value(values[name], properties.get(name, {}))} for name in names]
    declared = [param_spec(name, properties.get(name, {})) for name in names]
    run: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": pipeline_run_name(workflow_id, execution_id),
            "labels": {
                "app.kubernetes.io/managed-by": "workflow-catalog",
                f"{LABEL_PREFIX}workflow-id": label_value(workflow_id),
                f"{LABEL_PREFIX}workflow-version": label_value(version),
                f"{LABEL_PREFIX}execution-id": label_value(execution_id),
            },
            # Label values are restricted; annotations carry the exact strings.
            "annotations": {
                f"{LABEL_PREFIX}workflow-version": version,
                f"{LABEL_PREFIX}incident-id": incident_id,
            },
        },
        "spec": {
            "params": spec_params,
            "pipelineSpec": {
                "params": declared,
                "tasks": [
                    {
                        "name": TASK_NAME,
                        "params": [{"name": name, "value": f"$(params.{name})"} for name in names],
                        "taskSpec": {
                            "params": [{"name": name, "type": "string"} for name in names],
                            "steps": [
                                {
                                    "name": STEP_NAME,
                                    "image": image,
                                    "env": [{"name": name, "value": f"$(params.{name})"} for name in names],
                                }
                            ],
                        },
                    }
                ],
            },
        },
    }
    if target is not None:
        add_target(run["metadata"], execution_id, target)
    return run


def add_target(metadata: dict[str, Any], execution_id: str, target: Target) -> None:
    """The resource the run acts on and the execution it reports back to: labels to select runs by
    (a name may be longer than a label value allows), annotations with the exact strings."""
    fields = {"target-kind": target.kind, "target-name": target.name}
    if target.namespace:
        fields["target-namespace"] = target.namespace
    for field, text in fields.items():
        metadata["labels"][f"{LABEL_PREFIX}{field}"] = label_value(text)
        metadata["annotations"][f"{LABEL_PREFIX}{field}"] = text
    metadata["annotations"][f"{LABEL_PREFIX}execution-id"] = execution_id


def param_spec(name: str, prop: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "type": "string"}
    description = prop.get("description")
    if isinstance(description, str) and description:
        spec["description"] = description
    return spec


def env_value(value: Any, prop: Mapping[str, Any]) -> str:
    """The environment-variable form of a validated value.

    Booleans are ``true``/``false``; integers plain digits (an integral float declared as integer,
    such as 3.0, becomes ``3``); other numbers plain decimal, never an exponent (1e-07 -> 0.0000001).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if prop.get("type") == "integer" and value.is_integer():
            return str(int(value))
        # repr() is the shortest string that round-trips; Decimal prints it without an exponent.
        return format(Decimal(repr(value)), "f")
    return str(value)


def label_value(text: str) -> str:
    """A valid Kubernetes label value: [A-Za-z0-9._-], alphanumeric at both ends, at most 63 characters."""
    cleaned = _LABEL_INVALID.sub("_", text)[:MAX_LABEL_VALUE]
    return _LABEL_EDGE.sub("", cleaned)


def pipeline_run_name(workflow_id: str, execution_id: str) -> str:
    """A DNS-1123 label unique per execution: ``<workflow id, truncated>-<execution uuid>``."""
    return f"{workflow_id[:NAME_WORKFLOW_PART].rstrip('-')}-{execution_id}"
