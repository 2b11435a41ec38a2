"""Builds the Tekton ``tekton.dev/v1`` PipelineRun that runs one workflow version (pure, no I/O).

Shape: an inline ``pipelineSpec`` with one task whose inline ``taskSpec`` has one step running the
workflow's digest-pinned image. Each parameter value appears exactly once, in ``spec.params``, as a
string; the pipeline hands it to the task (``$(params.X)`` in the pipeline task's params) and the
task to the step's environment variable of the same name (``$(params.X)`` in ``env``). Values
never appear in metadata, names or defaults, so labels and logs cannot leak them.

writeOnly parameters never appear in the PipelineRun: the step reads each from the execution's
Secret (``valueFrom.secretKeyRef``, key = the parameter's name), which the runner creates from its
claim (``build_secret``) before the run, in the same namespace. So the PipelineRun holds no secret,
and the catalog may show it in its answers and store it (chalicelib/domain/executions.py says how
the values are held until then).

Hand-written rather than built with a Tekton library: the Python SDK on PyPI (tekton-pipeline
0.2.0, 2021) predates tekton.dev/v1, and the manifest is one small dictionary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from chalicelib.domain.executions import Target, write_only_names

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
    """The PipelineRun for validated ``values`` (declared parameters only, defaults applied); writeOnly ones are
    read from the execution's Secret, so their values (real or redacted) are not used."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    secret = write_only_names(schema)
    names = sorted(name for name in values if name not in secret)
    spec_params = [{"name": name, "value": env_value(values[name], properties.get(name, {}))} for name in names]
    declared = [param_spec(name, properties.get(name, {})) for name in names]
    env: list[dict[str, Any]] = [{"name": name, "value": f"$(params.{name})"} for name in names]
    env += [secret_env(name, name, execution_id) for name in sorted(secret & set(values))]
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
                                    "env": env,
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


def secret_name(execution_id: str) -> str:
    """The name of the execution's Secret (a DNS-1123 subdomain; the execution id makes it unique and stable)."""
    return f"kubernaut-exec-{execution_id}"


def secret_env(name: str, key: str, execution_id: str) -> dict[str, Any]:
    """The step's environment variable ``name``, read from the ``key`` of the execution's Secret."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name(execution_id), "key": key}}}


def build_secret(execution_id: str, schema: Mapping[str, Any], held: Mapping[str, Any]) -> dict[str, Any]:
    """The execution's Secret holding its writeOnly ``held`` values as strings (what the runner creates)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(execution_id),
                     "labels": {"app.kubernetes.io/managed-by": "workflow-catalog",
                                f"{LABEL_PREFIX}execution-id": label_value(execution_id)}},
        "type": "Opaque",
        "stringData": {name: env_value(value, properties.get(name, {})) for name, value in sorted(held.items())},
    }


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
