"""Composite workflows for tests: three step workflows with several versions, and a composite over them.

- scale-deployment 1.2.0, 1.3.0 and 2.0.0 (active), 1.4.0 (draft): "^1.2.0" must pick 1.3.0.
- verify-rollout 1.0.0 and 1.1.0: "1.x" picks 1.1.0.
- rollback-deployment 2.0.0, 2.1.0 and 3.0.0: "^2.0.0" picks 2.1.0; it takes a writeOnly token.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.support.api import ApiClient

BASE = "/api/v1/playbooks"
WRITE = ("catalog:write",)
LABELS = {"signal_type": "KubeDeploymentReplicasMismatch", "severity": ["critical", "high"], "environment": "*",
          "component": "deployment"}


def digest(workflow_id: str, version: str) -> str:
    """A distinct, stable digest per (workflow, version), so a test can tell which version runs."""
    import hashlib

    return hashlib.sha256(f"{workflow_id}@{version}".encode()).hexdigest()


def image(workflow_id: str, version: str) -> str:
    return f"ghcr.io/acme/{workflow_id}:{version}@sha256:{digest(workflow_id, version)}"


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


TARGET = {"NAMESPACE": _string("Namespace of the deployment", pattern="^[a-z0-9-]{1,63}$"),
          "DEPLOYMENT": _string("The deployment")}
STEP_SCHEMAS: dict[str, dict[str, Any]] = {
    "scale-deployment": {
        "type": "object",
        "properties": {**TARGET, "REPLICAS": {"type": "integer", "description": "Replicas", "minimum": 1,
                                              "maximum": 50}},
        "required": ["NAMESPACE", "DEPLOYMENT", "REPLICAS"],
    },
    "verify-rollout": {
        "type": "object",
        "properties": {**TARGET, "TIMEOUT_SECONDS": {"type": "integer", "description": "How long to wait",
                                                     "default": 300}},
        "required": ["NAMESPACE", "DEPLOYMENT"],
    },
    "rollback-deployment": {
        "type": "object",
        "properties": {**TARGET, "NOTIFY_TOKEN": _string("Chat token to report the rollback", writeOnly=True)},
        "required": ["NAMESPACE", "DEPLOYMENT"],
    },
}
VERSIONS = {
    "scale-deployment": [("1.2.0", "active"), ("1.3.0", "active"), ("2.0.0", "active"), ("1.4.0", "draft")],
    "verify-rollout": [("1.0.0", "active"), ("1.1.0", "active")],
    "rollback-deployment": [("2.0.0", "active"), ("2.1.0", "active"), ("3.0.0", "active")],
}


def step_workflow(workflow_id: str, version: str, status: str = "active", **changes: Any) -> dict[str, Any]:
    body = {
        "workflow_id": workflow_id, "version": version, "title": f"{workflow_id.replace('-', ' ').title()} {version}",
        "description": f"Runs {workflow_id} against one deployment.", "labels": LABELS,
        "container_image": image(workflow_id, version), "parameters": copy.deepcopy(STEP_SCHEMAS[workflow_id]),
        "status": status,
    }
    body.update(changes)
    return body


def create_step_workflows(client: ApiClient) -> None:
    for workflow_id, versions in VERSIONS.items():
        for version, status in versions:
            response = client.post(BASE, step_workflow(workflow_id, version, status), scopes=WRITE)
            assert response.status == 201, response


COMPOSITE_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        **copy.deepcopy(TARGET),
        "REPLICAS": {"type": "integer", "description": "Replicas to scale to", "minimum": 1},
        "NOTIFY_TOKEN": _string("Chat token", writeOnly=True),
    },
    "required": ["NAMESPACE", "DEPLOYMENT", "REPLICAS"],
}


def composite(workflow_id: str = "scale-and-verify", version: str = "1.0.0", **changes: Any) -> dict[str, Any]:
    """scale-out and snapshot in parallel, verify after scale-out, undo when the pipeline failed."""
    target = {"NAMESPACE": "$(params.NAMESPACE)", "DEPLOYMENT": "$(params.DEPLOYMENT)"}
    body: dict[str, Any] = {
        "workflow_id": workflow_id, "version": version, "title": "Scale out a deployment and verify the rollout",
        "description": "Scales the deployment, waits for the rollout, and rolls back if anything failed.",
        "labels": LABELS,
        "parameters": copy.deepcopy(COMPOSITE_PARAMETERS),
        "steps": [
            {"name": "scale-out", "workflow_id": "scale-deployment", "version": "^1.2.0",
             "parameters": {**target, "REPLICAS": "$(params.REPLICAS)"}},
            {"name": "snapshot", "workflow_id": "verify-rollout", "version": "1.0.0",
             "parameters": {**target, "TIMEOUT_SECONDS": 30}},
            {"name": "verify", "workflow_id": "verify-rollout", "version": "1.x", "run_after": ["scale-out"],
             "parameters": target},
        ],
        "finally": [
            {"name": "undo", "workflow_id": "rollback-deployment", "version": "^2.0.0", "when": "failed",
             "parameters": {**target, "NOTIFY_TOKEN": "$(params.NOTIFY_TOKEN)"}},
        ],
    }
    body.update(changes)
    return body


def create_composite(client: ApiClient, **changes: Any) -> dict[str, Any]:
    response = client.post(BASE, composite(**changes), scopes=WRITE)
    assert response.status == 201, response
    return response.json
