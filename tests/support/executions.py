"""Workflows and requests shared by the execution tests."""

from __future__ import annotations

import copy
import itertools
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from chalicelib.stores.db import Database
from tests.support.api import ApiClient, Result

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = "/api/v1/playbooks"
EXECUTIONS = "/api/v1/executions"
PROBLEM = "application/problem+json"
WRITE = ("executions:write",)
RUN = ("executions:run",)  # a runner's key; not bound to a cluster, so it acts for cluster "default"
READ = ("catalog:read",)

STUCK = json.loads((ROOT / "examples/workflows/stuck-rollout-restart.json").read_text())
# A secret nobody would type by accident, so finding it anywhere is a real leak.
SECRET = "xoxb-SECRET-7f3a9c41d2e8"
# Values for the composite scale-and-verify of tests/support/composites.py.
COMPOSITE_VALUES = {"NAMESPACE": "shop", "DEPLOYMENT": "checkout", "REPLICAS": 4, "NOTIFY_TOKEN": SECRET}

# Every kind of rule the parameter schema supports, for the truth tables.
KITCHEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "NAME": {"type": "string", "description": "a name", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 10},
        "COUNT": {"type": "integer", "description": "a count", "minimum": 1, "maximum": 5, "default": 2},
        "RATIO": {"type": "number", "description": "a ratio", "exclusiveMinimum": 0, "maximum": 1},
        "MODE": {"enum": ["fast", "safe"], "description": "a mode"},
        "DRY_RUN": {"type": "boolean", "description": "dry run", "default": False},
        "CHANNEL": {"type": "string", "description": "a channel"},
        "TOKEN": {"type": "string", "description": "a token", "writeOnly": True, "minLength": 8},
    },
    "required": ["NAME"],
    "dependentRequired": {"CHANNEL": ["TOKEN"]},
    "additionalProperties": False,
}


def workflow(workflow_id: str = "stuck-rollout-restart", version: str = "1.0.0", **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(STUCK)
    body.update(workflow_id=workflow_id, version=version, **changes)
    return body


def create_workflow(client: ApiClient, workflow_id: str = "stuck-rollout-restart", version: str = "1.0.0",
                    **changes: Any) -> dict[str, Any]:
    response = client.post(PLAYBOOKS, workflow(workflow_id, version, **changes), scopes=("catalog:write",))
    assert response.status in (200, 201), response
    return response.json


def create_kitchen(client: ApiClient, version: str = "1.0.0", **changes: Any) -> dict[str, Any]:
    return create_workflow(client, "kitchen-sink", version, parameters=KITCHEN_SCHEMA, **changes)


def set_guards(client: ApiClient, workflow_id: str = "stuck-rollout-restart", reason: str = "test setup",
               **settings: int | None) -> Result:
    """PATCH the workflow's guard settings (README, "Guardrails")."""
    return client.patch(f"{PLAYBOOKS}/{workflow_id}", {"guards": settings, "reason": reason},
                        scopes=("catalog:write",))


def incident(**extra: Any) -> dict[str, Any]:
    return {"id": "INC-1042", "signal_type": "DeploymentRolloutStuck", "severity": "high",
            "business_context": {"business_category": "payments", "risk_tolerance": "low"}, **extra}


def stuck_parameters(**extra: Any) -> dict[str, Any]:
    return {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": "checkout", **extra}


_targets = itertools.count(1)


def new_target() -> dict[str, str]:
    """A target no other execution of the test acts on (one active execution per target)."""
    return {"kind": "Deployment", "namespace": "shop", "name": f"checkout-{next(_targets)}"}


def start(client: ApiClient, workflow_id: str = "stuck-rollout-restart", parameters: Any = None,
          version: str | None = None, scopes: tuple[str, ...] = WRITE, **body: Any) -> Result:
    """POST /api/v1/executions; without ``target`` in ``body``, on a target of its own."""
    request: dict[str, Any] = {"workflow_id": workflow_id, "incident": incident(), "target": new_target(),
                               "parameters": stuck_parameters() if parameters is None else parameters, **body}
    if version is not None:
        request["version"] = version
    return client.post(EXECUTIONS, request, scopes=scopes)


def started(client: ApiClient, **kwargs: Any) -> dict[str, Any]:
    response = start(client, **kwargs)
    assert response.status == 201, response
    return response.json


def move(client: ApiClient, execution_id: str, status: str, message: str | None = None, **report: Any) -> Result:
    """A runner's report (PATCH), by a runner key of cluster "default"."""
    body: dict[str, Any] = {"status": status, **report}
    if message is not None:
        body["message"] = message
    return client.patch(f"{EXECUTIONS}/{execution_id}", body, scopes=RUN)


def claim(client: ApiClient, runner_id: str = "runner-a", scopes: tuple[str, ...] = RUN, **body: Any) -> Result:
    """POST /api/v1/executions/claim (no wait unless ``wait_seconds`` is given)."""
    return client.post(f"{EXECUTIONS}/claim", {"runner_id": runner_id, **body}, scopes=scopes)


def problem_type(response: Result) -> str:
    assert response.content_type.startswith(PROBLEM), response
    return response.json["type"].rsplit("/", 1)[-1]


def lapse(db: Database, *execution_ids: str) -> None:
    """The leases end now (as if CLAIM_LEASE_SECONDS had passed with no report)."""
    with db.transaction() as cur:
        cur.execute("UPDATE executions SET lease_expires_at = now() - interval '1 second' "
                    "WHERE execution_id = ANY(%s::uuid[])", (list(execution_ids),))


def overdue(db: Database, *execution_ids: str) -> None:
    """The approval windows end now (as if APPROVAL_TTL_SECONDS had passed with no decision or start)."""
    with db.transaction() as cur:
        cur.execute("UPDATE executions SET approval_expires_at = now() - interval '1 second' "
                    "WHERE execution_id = ANY(%s::uuid[])", (list(execution_ids),))


def count_executions(db: Any) -> tuple[int, int]:
    with db.reading() as cur:
        cur.execute("SELECT (SELECT count(*) FROM executions) AS e, (SELECT count(*) FROM execution_events) AS v")
        row = cur.fetchone()
    return row["e"], row["v"]


# --- approvals ------------------------------------------------------------------------------------
# Two distinct keys. The requester may approve in general (so its 403 on its own execution is about who,
# not about a missing scope); the approver may only approve or reject.
REQUESTER = ("executions:approve", "executions:write")
APPROVER = ("executions:approve",)


def require_approval(client: ApiClient, workflow_id: str = "stuck-rollout-restart", required: bool = True) -> Result:
    return client.patch(f"{PLAYBOOKS}/{workflow_id}", {"approval_required": required, "reason": "change board"},
                        scopes=("catalog:write",))


def decide(client: ApiClient, execution_id: str, decision: str, reason: str = "looked at the graphs",
           scopes: tuple[str, ...] = APPROVER) -> Result:
    """POST .../approve or .../reject with a reason."""
    return client.post(f"{EXECUTIONS}/{execution_id}/{decision}", {"reason": reason}, scopes=scopes)


def release(client: ApiClient, execution_id: str, scopes: tuple[str, ...] = REQUESTER) -> Result:
    """POST .../start: an approved execution becomes pending and hands over its PipelineRun."""
    return client.post(f"{EXECUTIONS}/{execution_id}/start", scopes=scopes)


def events(client: ApiClient, execution_id: str) -> list[tuple[str | None, str, str | None, str]]:
    """(from, to, message, changed_by) of every step in the execution's history."""
    record = client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json
    return [(e["from"], e["to"], e["message"], e["changed_by"]) for e in record["events"]]


def http_request(method: str, url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A request over real HTTP (a server of its own: the ``server`` fixture); the status and the JSON answer."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
