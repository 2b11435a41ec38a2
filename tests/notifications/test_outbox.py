"""The outbox: each execution event written in the transaction that causes it, on the real database through
the real API; a rolled-back action records nothing, and an outbox that cannot be written stops the action."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib.container import services
from chalicelib.domain.notifications import CHANNELS, circuit_opened
from chalicelib.services.notifications import record
from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.executions import (
    APPROVER,
    EXECUTIONS,
    READ,
    REQUESTER,
    SECRET,
    create_kitchen,
    create_workflow,
    decide,
    move,
    overdue,
    release,
    require_approval,
    start,
    started,
)
from tests.support.keys import key_id_of
from tests.support.notifications import outbox

KITCHEN = "kitchen-sink"
WITH_SECRET = {"NAME": "abc", "CHANNEL": "ops", "TOKEN": SECRET}  # TOKEN is writeOnly


def requested(client: ApiClient, name: str) -> str:
    response = start(client, KITCHEN, parameters=WITH_SECRET, scopes=REQUESTER,
                     target={"kind": "Deployment", "namespace": "shop", "name": name})
    assert response.status == 201 and response.json["status"] == "awaiting_approval", response
    return str(response.json["execution_id"])


def changed_at(db: Database, execution_id: str, status: str) -> Any:
    with db.reading() as cur:
        cur.execute("SELECT changed_at FROM execution_events WHERE execution_id = %s AND to_status = %s",
                    (execution_id, status))
        return cur.fetchone()["changed_at"]


def test_each_execution_event_is_recorded_once_with_the_change_and_without_parameter_values(
    client: ApiClient, db: Database
) -> None:
    create_kitchen(client)
    assert require_approval(client, KITCHEN).status == 200
    approved, rejected, expired, waiting = (requested(client, name) for name in ("a", "b", "c", "d"))
    assert decide(client, approved, "approve", "graphs look fine").status == 200
    assert decide(client, rejected, "reject", "not during the freeze").status == 200
    overdue(db, expired)
    assert client.get(f"{EXECUTIONS}/{expired}", scopes=READ).json["status"] == "expired"  # expired when read
    assert release(client, approved).status == 200
    assert move(client, approved, "failed", "the rollout timed out").status == 200

    events = outbox(db)
    assert [(e["event_type"], e["data"]["execution_id"]) for e in events] == [
        ("execution.awaiting_approval", approved), ("execution.awaiting_approval", rejected),
        ("execution.awaiting_approval", expired), ("execution.awaiting_approval", waiting),
        ("execution.approved", approved), ("execution.rejected", rejected), ("execution.expired", expired),
        ("execution.failed", approved)]
    by_type = {e["event_type"]: e for e in events[4:]}
    requester, approver = key_id_of(client.auth(*REQUESTER)), key_id_of(client.auth(*APPROVER))
    assert (events[0]["data"]["actor"], events[0]["data"]["reason"]) == (requester, "approval required")
    assert by_type["execution.approved"]["data"]["actor"] == approver
    assert by_type["execution.rejected"]["data"]["reason"] == "not during the freeze"
    assert (by_type["execution.expired"]["data"]["actor"], by_type["execution.expired"]["data"]["previous_status"]) \
        == ("system", "awaiting_approval")
    assert by_type["execution.failed"]["data"]["reason"] == "the rollout timed out"
    # Written by the very transaction of the change: the same transaction time as its history entry.
    for event in events:
        assert event["occurred_at"] == changed_at(db, event["data"]["execution_id"], event["data"]["status"])
        assert event["deliveries"].keys() == set(CHANNELS)
        assert all(d["status"] == "pending" and d["attempts"] == 0 for d in event["deliveries"].values())
    assert SECRET not in str(events) and "TOKEN" not in str(events)  # names and values of parameters alike


def test_executions_nobody_needs_to_hear_about_record_nothing(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    execution = started(client)["execution_id"]
    assert move(client, execution, "running").status == 200
    assert move(client, execution, "succeeded").status == 200
    assert outbox(db) == []
    failing = started(client)["execution_id"]
    assert move(client, failing, "failed").status == 200  # pending -> failed: it never started
    [event] = outbox(db)
    assert (event["event_type"], event["data"]["previous_status"], event["data"]["reason"]) == (
        "execution.failed", "pending", None)


def test_the_expiry_sweep_records_each_expiry_in_its_own_transaction(client: ApiClient, db: Database) -> None:
    create_kitchen(client)
    require_approval(client, KITCHEN)
    waiting = [requested(client, f"sweep-{i}") for i in range(3)]
    assert decide(client, waiting[0], "approve").status == 200  # approved, never started: expires too
    overdue(db, *waiting)
    assert services().executions.expire_overdue() == 3
    expiries = [e for e in outbox(db) if e["event_type"] == "execution.expired"]
    assert sorted(e["data"]["execution_id"] for e in expiries) == sorted(waiting)
    assert {e["data"]["previous_status"] for e in expiries} == {"approved", "awaiting_approval"}
    for event in expiries:
        assert event["occurred_at"] == changed_at(db, event["data"]["execution_id"], "expired")
    assert services().executions.expire_overdue() == 0 and len(outbox(db)) == 7  # 3 requests, 1 approval, 3 expiries


@contextmanager
def trigger(db: Database, definition: str, condition: str) -> Iterator[None]:
    """A real PostgreSQL trigger (``CREATE <definition> EXECUTE FUNCTION ...``) that fails the statement (or,
    deferred, the commit) when ``condition`` holds."""
    with db.transaction() as cur:
        cur.execute(f"""CREATE FUNCTION fail_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN IF {condition} THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$""")
        cur.execute(f"CREATE {definition} FOR EACH ROW EXECUTE FUNCTION fail_for_test()")
    try:
        yield
    finally:
        with db.transaction() as cur:
            cur.execute("DROP FUNCTION fail_for_test() CASCADE")


def rows(db: Database) -> tuple[Any, ...]:
    with db.reading() as cur:
        cur.execute("""SELECT (SELECT count(*) FROM notifications) AS n, (SELECT count(*) FROM notification_deliveries) AS d,
                              (SELECT count(*) FROM execution_events) AS e,
                              (SELECT string_agg(status, ',' ORDER BY id) FROM executions) AS s""")
        return tuple(cur.fetchone().values())


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_whose_commit_fails_notifies_nobody(client: ApiClient, db: Database, decision: str) -> None:
    create_kitchen(client)
    require_approval(client, KITCHEN)
    execution = requested(client, "rollback")
    before = rows(db)
    # Deferred: the change, its history and its outbox rows are all written; then the commit fails.
    with trigger(db, "CONSTRAINT TRIGGER fail_commit AFTER UPDATE ON executions DEFERRABLE INITIALLY DEFERRED",
                 "NEW.status IN ('approved', 'rejected')"):
        failed = decide(client, execution, decision)
    assert failed.status == 500
    assert rows(db) == before  # no outbox row, no history entry, still awaiting_approval
    assert decide(client, execution, decision).status == 200  # and the action itself still works
    assert [e["event_type"] for e in outbox(db)][-1] == {"approve": "execution.approved",
                                                         "reject": "execution.rejected"}[decision]


def test_when_the_outbox_cannot_be_written_the_action_does_not_happen(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    execution = started(client)["execution_id"]
    before = rows(db)
    with trigger(db, "TRIGGER fail_outbox BEFORE INSERT ON notifications", "TRUE"):
        assert move(client, execution, "failed", "crashed").status == 500
    assert rows(db) == before  # still pending: a failure nobody would hear about is not recorded either
    assert move(client, execution, "failed", "crashed").status == 200
    assert [e["event_type"] for e in outbox(db)] == ["execution.failed"]


def test_record_takes_part_in_the_callers_transaction(db: Database) -> None:
    opened = circuit_opened(workflow_id="restart", reason="5 of the last 10 failed", failed=5, finished=10,
                            actor="system")
    with pytest.raises(RuntimeError), db.transaction() as tx:
        record(tx, opened)
        raise RuntimeError("the guard's change failed after recording")
    assert outbox(db) == []
    with db.transaction() as tx:
        record(tx, opened)
    [event] = outbox(db)
    assert (event["event_id"], event["event_type"], event["data"]["failed"]) == (
        opened.event_id, "guard.circuit_opened", 5)
    assert {d["status"] for d in event["deliveries"].values()} == {"pending"}


def test_events_past_their_keeping_time_are_deleted_with_their_deliveries(db: Database) -> None:
    for workflow_id in ("old", "recent"):
        with db.transaction() as tx:
            record(tx, circuit_opened(workflow_id=workflow_id, reason="r", failed=5, finished=10, actor="system"))
    with db.transaction() as cur:
        cur.execute("""UPDATE notifications SET occurred_at = now() - interval '7 days 1 second'
                       WHERE data->>'workflow_id' = 'old'""")
    assert services().maintenance.run()["notifications"] == {"delivered": 0, "retried": 0, "abandoned": 0}
    assert [event["data"]["workflow_id"] for event in outbox(db)] == ["recent"]
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM notification_deliveries")
        assert cur.fetchone()["n"] == len(CHANNELS)
