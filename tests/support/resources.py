"""RemediationWorkflow resources and registration events, as the API server and the watcher send them."""

from __future__ import annotations

import uuid
from typing import Any


def rw(
    image: str,
    name: str = "oomkill-increase-memory",
    version: str = "1.0.0",
    uid: str | None = None,
    generation: int = 1,
    namespace: str = "remediation",
    **spec: Any,
) -> dict[str, Any]:
    """A RemediationWorkflow as the API server returns it."""
    body: dict[str, Any] = {
        "version": version,
        "image": image,
        "labels": {"signal_type": "OOMKilled", "severity": ["critical", "high"], "environment": ["*"],
                   "component": "deployment", "priority": "P1"},
    }  # fmt: skip
    body.update(spec)
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationWorkflow",
        "metadata": {"name": name, "namespace": namespace, "uid": uid or str(uuid.uuid4()),
                     "generation": generation, "resourceVersion": "1234"},
        "spec": {key: value for key, value in body.items() if value is not None},
    }  # fmt: skip


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"event": kind, "object": obj}
