"""Guard tests' helpers: executions run to an end, time passing for the guards, every table as rows."""

from __future__ import annotations

from typing import Any

from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.executions import PLAYBOOKS, READ, move, start

WORKFLOW = "stuck-rollout-restart"


def target(name: str, namespace: str = "shop") -> dict[str, str]:
    return {"kind": "Deployment", "namespace": namespace, "name": name}


def finish(client: ApiClient, execution_id: str, status: str) -> None:
    """pending -> running -> ``status`` (succeeded or failed), as a runner reports it."""
    assert move(client, execution_id, "running").status == 200
    assert move(client, execution_id, status).status == 200


def run(client: ApiClient, on: dict[str, str], status: str, workflow_id: str = WORKFLOW) -> str:
    """An execution of ``workflow_id`` on ``on`` that ends ``status``; its id."""
    response = start(client, workflow_id, target=on)
    assert response.status == 201, response
    finish(client, response.json["execution_id"], status)
    return str(response.json["execution_id"])


def backdate(db: Database, execution_id: str, column: str, seconds: float) -> None:
    """Moves ``column`` (finished_at or created_at) of an execution to ``seconds`` before now: time passing for the
    guards without the test waiting for it (the guards read these columns against the database's clock)."""
    assert column in ("finished_at", "created_at")
    with db.transaction() as cur:
        cur.execute(f"UPDATE executions SET {column} = now() - make_interval(secs => %s) WHERE execution_id = %s",
                    (seconds, execution_id))


def workflow_read(client: ApiClient, workflow_id: str = WORKFLOW) -> dict[str, Any]:
    response = client.get(f"{PLAYBOOKS}/{workflow_id}", scopes=READ)
    assert response.status == 200, response
    return dict(response.json)


def history(client: ApiClient, workflow_id: str = WORKFLOW) -> list[dict[str, Any]]:
    """The workflow-level changes in the workflow's history (field, from, to, reason, changed_by)."""
    response = client.get(f"{PLAYBOOKS}/{workflow_id}/versions", scopes=READ)
    assert response.status == 200, response
    return list(response.json["workflow_changes"])
