"""writeOnly values held sealed (through an approval too) until the runner reports running: handed over only in the
claim's Secret, deleted then (or when the execution ends, is rejected or expires), nowhere else."""

from __future__ import annotations

import io
from typing import Any

from tests.support.api import ApiClient, Result
from tests.support.database import stored_text
from tests.support.executions import (
    EXECUTIONS,
    PLAYBOOKS,
    READ,
    REQUESTER,
    SECRET,
    claim,
    create_workflow,
    decide,
    move,
    release,
    require_approval,
    start,
    stuck_parameters,
)
from tests.support.tekton import step_environment

WITH_SECRET = stuck_parameters(NOTIFY_CHANNEL="#ops", NOTIFY_WEBHOOK_TOKEN=SECRET)


def leaked(text: str) -> bool:
    return SECRET in text or SECRET.encode().hex() in text


def held(db: Any) -> list[bytes]:
    with db.reading() as cur:
        cur.execute("SELECT sealed FROM execution_secrets")
        return [bytes(row["sealed"]) for row in cur.fetchall()]


def request_with_secret(client: ApiClient, name: str = "checkout") -> Result:
    return start(client, parameters=WITH_SECRET, target={"kind": "Deployment", "namespace": "shop", "name": name},
                 scopes=REQUESTER)


def test_the_held_secret_reaches_only_the_claims_secret_and_is_deleted_once_running(
        client: ApiClient, db: Any, service_log: io.StringIO) -> None:
    create_workflow(client)
    require_approval(client)
    requested = request_with_secret(client)
    assert requested.status == 201 and requested.json["status"] == "awaiting_approval"
    execution_id = requested.json["execution_id"]
    assert requested.json["parameters"]["NOTIFY_WEBHOOK_TOKEN"] == "***"
    [sealed] = held(db)  # held, sealed: the database never sees it in clear
    assert SECRET.encode() not in sealed and not leaked(stored_text(db))

    answers = [requested,
               client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ),
               client.get(EXECUTIONS, scopes=READ),
               decide(client, execution_id, "approve"),
               client.get(f"{PLAYBOOKS}/stuck-rollout-restart/stats", scopes=READ)]
    assert not leaked(stored_text(db))

    started = release(client, execution_id)
    assert started.status == 200, started
    run = started.json["pipeline_run"]
    assert step_environment(run)["NOTIFY_WEBHOOK_TOKEN"].startswith("secretKeyRef:")  # read from the Secret
    assert started.json["parameters"]["NOTIFY_WEBHOOK_TOKEN"] == "***"
    assert held(db) == [sealed]  # still held, sealed, for the runner's claim
    answers.append(started)

    claimed = claim(client)
    (item,) = claimed.json["items"]
    assert claimed.body.decode().count(SECRET) == 1  # the one hand-off: the claim's Secret
    assert item["pipeline_run"] == run and step_environment(run, item["secret"])["NOTIFY_WEBHOOK_TOKEN"] == SECRET
    assert move(client, execution_id, "running").status == 200
    assert held(db) == []  # delivered: deleted with the running report, in the same transaction
    assert not leaked(stored_text(db))

    answers += [release(client, execution_id),  # a second start hands over nothing
                client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ),
                client.get(f"{EXECUTIONS}?status=running", scopes=READ)]
    assert answers[-3].status == 409
    for answer in answers:
        assert not leaked(answer.body.decode()), answer
    logs = service_log.getvalue()
    assert "execution started" in logs and "execution claimed" in logs  # the capture sees the lines ...
    assert not leaked(logs)  # ... and none carries the secret


def test_reject_and_expiry_delete_the_held_values(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    require_approval(client)
    rejected = request_with_secret(client, "a").json["execution_id"]
    waiting = request_with_secret(client, "b").json["execution_id"]
    kept = request_with_secret(client, "c").json["execution_id"]
    assert len(held(db)) == 3
    assert decide(client, rejected, "reject").status == 200
    assert len(held(db)) == 2
    with db.transaction() as cur:  # the approval window passes (the clock, moved by an hour)
        cur.execute("UPDATE executions SET approval_expires_at = now() - interval '1 hour' WHERE execution_id = %s",
                    (waiting,))
    assert client.get(f"{EXECUTIONS}/{waiting}", scopes=READ).json["status"] == "expired"
    with db.reading() as cur:
        cur.execute("SELECT execution_id::text AS id FROM execution_secrets")
        assert [row["id"] for row in cur.fetchall()] == [kept]


def test_held_values_are_bound_to_their_execution(client: ApiClient, db: Any) -> None:
    """A sealed value copied onto another execution does not open: nothing is released, nothing leaks."""
    create_workflow(client)
    require_approval(client)
    first = request_with_secret(client, "a").json["execution_id"]
    second = request_with_secret(client, "b").json["execution_id"]
    for execution_id in (first, second):
        assert decide(client, execution_id, "approve").status == 200
    with db.transaction() as cur:
        cur.execute("""UPDATE execution_secrets SET sealed = (SELECT sealed FROM execution_secrets
                                                             WHERE execution_id = %s)
                       WHERE execution_id = %s""", (first, second))
    refused = release(client, second)
    assert refused.status == 503 and "still approved" in refused.json["detail"], refused
    assert not leaked(refused.body.decode())
    assert client.get(f"{EXECUTIONS}/{second}", scopes=READ).json["status"] == "approved"
    assert len(held(db)) == 2  # the failed start rolled back: the values are still held
    assert release(client, first).status == 200
