"""Workflow versions for tests: the example body, creating through the API, catalog snapshots, problem types."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.support.api import ApiClient
from tests.support.paths import ROOT

EXAMPLES_DIR = ROOT / "examples" / "workflows"
EXAMPLE = json.loads((EXAMPLES_DIR / "oomkill-increase-memory.json").read_text())
BASE = "/api/v1/playbooks"
PROBLEM = "application/problem+json"


def workflow(version: str = "1.0.0", workflow_id: str = "oomkill-increase-memory", **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE)
    body.update(workflow_id=workflow_id, version=version, **changes)
    return body


def create(client: ApiClient, version: str, **changes: Any) -> Any:
    response = client.post(BASE, workflow(version, **changes))
    assert response.status in (200, 201), response
    return response.json


def problem_type(response: Any) -> str:
    assert response.content_type.startswith(PROBLEM), response
    return response.json["type"].rsplit("/", 1)[-1]


def catalog_snapshot(db: Any) -> list[Any]:
    with db.reading() as cur:
        out = []
        for table in ("workflows", "workflow_versions", "status_changes"):
            cur.execute(f"SELECT * FROM {table} ORDER BY 1")
            out.append(cur.fetchall())
        return out
