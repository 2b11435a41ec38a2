"""Publishing workflows through the real API for the search tests."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support.api import ApiClient

BASE = "/api/v1/playbooks"
SEARCH = BASE + "/search"


def publish(client: ApiClient, workflow_id: str, version: str = "1.0.0", *, title: str = "Restart the pod",
            description: str = "Restarts a pod.", status: str = "active", **labels: Any) -> dict[str, Any]:
    """Creates a version (required labels default to "*") and returns the stored record."""
    all_labels = {"signal_type": "*", "severity": "*", "environment": "*", "component": "*", **labels}
    digest = hashlib.sha256(f"{workflow_id}{version}".encode()).hexdigest()
    response = client.post(BASE, {
        "workflow_id": workflow_id, "version": version, "title": title, "description": description,
        "labels": all_labels, "status": status,
        "container_image": f"ghcr.io/acme/{workflow_id}:{version}@sha256:{digest}",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    })
    assert response.status in (200, 201), response
    return response.json


def search(client: ApiClient, **body: Any) -> dict[str, Any]:
    response = client.post(SEARCH, body, scopes=("catalog:read",))
    assert response.status == 200, response
    return response.json


def ids(result: dict[str, Any]) -> list[str]:
    return [r["workflow_id"] for r in result["results"]]
