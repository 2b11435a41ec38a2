"""The catalog's side of the in-cluster runner, through the API (README, "The in-cluster runner"): claims with
leases, the clusters and namespaces a runner key reaches, what is never claimable, lapsed leases and runner-lost,
and the long poll (woken in-process, found by its poll otherwise, holding no database connection while it waits).

The watcher's side runs against this in tests/watcher/test_runner_end_to_end.py.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from chalicelib.container import services
from chalicelib.domain.executions import ClaimRequest, parse_execution_request
from chalicelib.services.executions import ExecutionService
from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    READ,
    REQUESTER,
    RUN,
    SECRET,
    WRITE,
    claim,
    create_workflow,
    decide,
    events,
    incident,
    lapse,
    move,
    new_target,
    problem_type,
    release,
    require_approval,
    set_guards,
    start,
    started,
    stuck_parameters,
)
from tests.support.keys import bearer
from tests.support.registrations import catalog_dump

WITH_SECRET = stuck_parameters(NOTIFY_CHANNEL="#ops", NOTIFY_WEBHOOK_TOKEN=SECRET)


def ids(response: Any) -> list[str]:
    assert response.status == 200, response
    return [item["execution_id"] for item in response.json["items"]]


def row(db: Database, execution_id: str) -> dict[str, Any]:
    with db.reading() as cur:
        cur.execute("SELECT status, reason, claimed_by, lease_lapses, lease_expires_at, "
                    "(SELECT count(*) FROM execution_secrets s WHERE s.execution_id = e.execution_id) AS held "
                    "FROM executions e WHERE execution_id = %s", (execution_id,))
        found = cur.fetchone()
    assert found is not None
    return dict(found)


def test_a_claim_leases_pending_executions_oldest_first_with_the_pipeline_run_the_start_showed(
        client: ApiClient, db: Database) -> None:
    create_workflow(client)
    first, second, third = (started(client) for _ in range(3))
    answer = claim(client, max=2)
    assert ids(answer) == [first["execution_id"], second["execution_id"]]
    item = answer.json["items"][0]
    assert item["pipeline_run"] == first["pipeline_run"] and "namespace" not in item["pipeline_run"]["metadata"]
    assert item["secret"] is None  # no writeOnly value
    record = client.get(f"{EXECUTIONS}/{first['execution_id']}", scopes=READ).json
    assert record["lease"]["runner_id"] == "runner-a" and record["lease"]["expires_at"] == item["lease_expires_at"]
    assert record["lease"]["lapses"] == 0 and record["status"] == "pending"
    assert events(client, first["execution_id"])[-1][:3] == ("pending", "pending", "claimed by runner runner-a")
    # Leased: another runner gets only the third; the same runner gets nothing new.
    assert ids(claim(client, "runner-b", max=10)) == [third["execution_id"]]


def test_a_runner_gets_back_the_pending_executions_it_holds_but_not_the_running_ones(client: ApiClient) -> None:
    create_workflow(client)
    first, second = (started(client)["execution_id"] for _ in range(2))
    assert ids(claim(client, max=2)) == [first, second]
    # Restarted between claim and create: the same runner id gets both back, at once, beside new work (max counts
    # only new executions).
    third = started(client)["execution_id"]
    assert ids(claim(client, max=1)) == [first, second, third]
    assert move(client, first, "running").status == 200
    assert ids(claim(client, max=1)) == [second, third]  # running: followed by the runner, not handed back
    assert ids(claim(client, "runner-b", max=10)) == []  # held by runner-a


def test_claims_and_reports_stay_in_the_keys_cluster(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    east = started(client, target={**new_target(), "cluster": "prod-east"})["execution_id"]
    west = started(client, target={**new_target(), "cluster": "prod-west"})["execution_id"]
    home = started(client)["execution_id"]  # no cluster: "default"
    east_runner = bearer("executions:run", cluster="prod-east")
    west_runner = bearer("executions:run", cluster="prod-west")
    assert ids(client.post(f"{EXECUTIONS}/claim", {"runner_id": "r", "max": 10}, scopes=None,
                           headers=east_runner)) == [east]
    assert ids(client.post(f"{EXECUTIONS}/claim", {"runner_id": "r", "max": 10}, scopes=None,
                           headers=west_runner)) == [west]
    assert ids(claim(client, max=10)) == [home]  # a key without a binding acts as cluster "default"

    # A runner key of one cluster reporting on another cluster's execution: 403, and nothing changes.
    before = catalog_dump(db)
    for status in ("running", "succeeded", "failed"):
        refused = client.patch(f"{EXECUTIONS}/{east}", {"status": status}, scopes=None, headers=west_runner)
        assert refused.status == 403 and problem_type(refused) == "forbidden", refused
        assert "prod-east" in refused.json["detail"]
    refused = client.patch(f"{EXECUTIONS}/{home}", {"status": "running"}, scopes=None, headers=east_runner)
    assert refused.status == 403
    assert catalog_dump(db) == before
    assert client.patch(f"{EXECUTIONS}/{east}", {"status": "running"}, scopes=None, headers=east_runner).status == 200


@pytest.mark.parametrize("scopes", [WRITE, ("executions:approve", "executions:write", "catalog:write"), READ])
def test_only_a_runner_key_sets_a_status(client: ApiClient, db: Database, scopes: tuple[str, ...]) -> None:
    create_workflow(client)
    execution_id = started(client)["execution_id"]
    before = catalog_dump(db)
    for status in ("running", "succeeded", "failed"):
        refused = client.patch(f"{EXECUTIONS}/{execution_id}", {"status": status}, scopes=scopes)
        assert refused.status == 403 and problem_type(refused) == "forbidden", refused
    assert client.post(f"{EXECUTIONS}/claim", {"runner_id": "r"}, scopes=scopes).status == 403
    assert catalog_dump(db) == before


def test_a_runner_key_limited_to_namespaces_claims_and_reports_only_there(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    shop = started(client, target={"kind": "Deployment", "namespace": "shop", "name": "a"})["execution_id"]
    other = started(client, target={"kind": "Deployment", "namespace": "billing", "name": "a"})["execution_id"]
    limited = bearer("executions:run", namespaces=["shop"])
    assert ids(client.post(f"{EXECUTIONS}/claim", {"runner_id": "r", "max": 5}, scopes=None,
                           headers=limited)) == [shop]
    before = catalog_dump(db)
    assert client.patch(f"{EXECUTIONS}/{other}", {"status": "running"}, scopes=None, headers=limited).status == 403
    assert catalog_dump(db) == before


def test_executions_awaiting_approval_or_approved_are_never_claimable(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    require_approval(client)
    waiting = started(client, scopes=REQUESTER)["execution_id"]
    approved = started(client, scopes=REQUESTER)["execution_id"]
    rejected = started(client, scopes=REQUESTER)["execution_id"]
    assert decide(client, approved, "approve").status == 200
    assert decide(client, rejected, "reject").status == 200
    before = catalog_dump(db)
    assert ids(claim(client, max=10)) == []
    for execution_id in (waiting, approved, rejected):  # nor can a runner report on one
        assert move(client, execution_id, "running").status == 409
    assert catalog_dump(db) == before
    assert release(client, approved).status == 200  # started: now it is the runner's
    assert ids(claim(client, max=10)) == [approved]


def test_an_execution_recorded_before_the_runner_is_never_claimed_and_a_runner_key_closes_it(
        client: ApiClient, db: Database) -> None:
    """Migration 016 leaves executions pending from before it without a PipelineRun (their caller was handed
    it): no runner may create it a second time; a runner key of their cluster ends them (docs/operations.md)."""
    create_workflow(client)
    assert set_guards(client, cooldown_seconds=0).status == 200  # the target lock alone decides below
    target = new_target()
    earlier = started(client, target=target)["execution_id"]
    with db.transaction() as cur:  # as migration 016 leaves it
        cur.execute("UPDATE executions SET pipeline_run = NULL WHERE execution_id = %s", (earlier,))
    assert ids(claim(client, max=10)) == []
    busy = start(client, target=target)
    assert busy.status == 409 and problem_type(busy) == "target-busy", busy
    assert move(client, earlier, "failed", "closed after the upgrade to the runner").status == 200
    assert client.get(f"{EXECUTIONS}/{earlier}", scopes=READ).json["status"] == "failed"
    assert start(client, target=target).status == 201  # the target is free again


@pytest.mark.parametrize("body", [
    {}, {"runner_id": ""}, {"runner_id": "a\nb"}, {"runner_id": "x" * 254}, {"runner_id": 7},
    {"runner_id": "r", "max": 0}, {"runner_id": "r", "max": 11}, {"runner_id": "r", "max": "2"},
    {"runner_id": "r", "wait_seconds": 21}, {"runner_id": "r", "wait_seconds": -1}, {"runner_id": "r", "x": 1},
])
def test_bad_claims_are_400_and_lease_nothing(client: ApiClient, db: Database, body: dict[str, Any]) -> None:
    create_workflow(client)
    started(client)
    before = catalog_dump(db)
    response = client.post(f"{EXECUTIONS}/claim", body, scopes=RUN)
    assert response.status == 400 and problem_type(response) == "validation-error", response
    assert catalog_dump(db) == before


def test_write_only_values_are_in_every_claim_until_running_then_gone(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    execution_id = started(client, parameters=WITH_SECRET)["execution_id"]
    (item,) = claim(client).json["items"]
    assert item["secret"]["stringData"] == {"NOTIFY_WEBHOOK_TOKEN": SECRET}
    assert item["secret"]["metadata"]["name"] == f"kubernaut-exec-{execution_id}"
    lapse(db, execution_id)  # the runner died before it created anything: the next one gets the values again
    (again,) = claim(client, "runner-b").json["items"]
    assert again["secret"] == item["secret"]
    assert move(client, execution_id, "running").status == 200
    assert row(db, execution_id)["held"] == 0
    lapse(db, execution_id)  # a running execution whose runner stopped reporting: claimable, without values
    (late,) = claim(client, "runner-c").json["items"]
    assert late["secret"] is None and late["pipeline_run"] == item["pipeline_run"]


def test_an_execution_that_ends_while_pending_drops_its_values(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    execution_id = started(client, parameters=WITH_SECRET)["execution_id"]
    assert row(db, execution_id)["held"] == 1
    failed = move(client, execution_id, "failed", reason="PipelineRunRejected", message="admission refused it")
    assert failed.status == 200 and failed.json["reason"] == "PipelineRunRejected"
    assert row(db, execution_id)["held"] == 0


def test_reports_renew_the_lease_and_carry_the_runs_times_reason_and_reference(client: ApiClient,
                                                                               db: Database) -> None:
    create_workflow(client)
    execution_id = started(client)["execution_id"]
    claim(client)
    first_lease = row(db, execution_id)["lease_expires_at"]
    time.sleep(0.05)
    reference = {"namespace": "kubernaut-workflows", "name": "run-1", "uid": "0f1e"}
    running = move(client, execution_id, "running", pipeline_run=reference, started_at="2026-01-05T10:00:00Z")
    assert running.status == 200 and running.json["pipeline_run_ref"] == reference
    assert row(db, execution_id)["lease_expires_at"] > first_lease
    heartbeat_lease = row(db, execution_id)["lease_expires_at"]
    time.sleep(0.05)
    assert move(client, execution_id, "running").status == 200  # the heartbeat
    assert row(db, execution_id)["lease_expires_at"] > heartbeat_lease
    done = move(client, execution_id, "failed", "took too long", reason="PipelineRunTimeout",
                started_at="2026-01-05T10:00:00Z", finished_at="2026-01-05T12:10:00.123456789+02:00")
    assert done.status == 200, done
    body = done.json
    assert (body["status"], body["reason"], body["message"]) == ("failed", "PipelineRunTimeout", "took too long")
    assert (body["started_at"], body["finished_at"], body["duration_seconds"]) == (
        "2026-01-05T10:00:00.000Z", "2026-01-05T10:10:00.123Z", 600.123456)
    assert row(db, execution_id)["claimed_by"] is None
    late = move(client, execution_id, "succeeded")
    assert late.status == 409 and problem_type(late) == "invalid-transition"


def test_stats_durations_come_from_the_reported_times(client: ApiClient) -> None:
    create_workflow(client)
    for seconds in (30, 90):
        execution_id = started(client)["execution_id"]
        assert move(client, execution_id, "running", started_at="2026-01-05T10:00:00Z").status == 200
        assert move(client, execution_id, "succeeded", finished_at=f"2026-01-05T10:{seconds // 60:02d}:"
                                                                   f"{seconds % 60:02d}Z").status == 200
    stats = client.get("/api/v1/playbooks/stuck-rollout-restart/stats", scopes=READ).json["versions"][0]
    assert (stats["succeeded"], stats["mean_duration_seconds"]) == (2, 60.0)


def test_three_lapsed_leases_fail_the_execution_as_runner_lost(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    execution_id = started(client, parameters=WITH_SECRET)["execution_id"]
    for lapses, runner in enumerate(("runner-a", "runner-b"), start=1):
        assert ids(claim(client, runner)) == [execution_id]
        lapse(db, execution_id)
        assert services().executions.lapse_leases() == 1  # the maintenance round counts it
        assert (row(db, execution_id)["status"], row(db, execution_id)["lease_lapses"]) == ("pending", lapses)
    assert ids(claim(client, "runner-c")) == [execution_id]
    lapse(db, execution_id)
    record = client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json  # a read counts it too
    assert (record["status"], record["reason"], record["lease"]["lapses"]) == ("failed", "runner-lost", 3)
    assert record["finished_at"] is not None and record["started_at"] is None
    assert record["events"][-1]["message"] == ("runner-lost: the lease of runner runner-c ended with no report "
                                               "(3 of 3)")
    assert [e["to"] for e in record["events"]].count("failed") == 1
    assert row(db, execution_id)["held"] == 0
    with db.reading() as cur:
        cur.execute("SELECT data FROM notifications WHERE event_type = 'execution.failed'")
        (notice,) = cur.fetchall()
    assert notice["data"]["reason"] == "runner-lost" and notice["data"]["execution_id"] == execution_id
    assert ids(claim(client, "runner-d")) == []
    refused = move(client, execution_id, "succeeded")  # the runner that comes back too late: stop reporting
    assert refused.status == 409
    # The target is free again (for another workflow: this one's cooldown counts from the failure).
    create_workflow(client, "restart-checkout")
    assert started(client, workflow_id="restart-checkout", target=record["target"])["status"] == "pending"


def test_a_running_execution_whose_lease_lapsed_is_claimed_again_as_running_to_follow(
        client: ApiClient, db: Database) -> None:
    create_workflow(client)
    execution_id = started(client, parameters=WITH_SECRET)["execution_id"]
    (first,) = claim(client, "runner-a").json["items"]
    assert first["status"] == "pending" and first["secret"] is not None
    assert move(client, execution_id, "running").status == 200
    lapse(db, execution_id)
    (again,) = claim(client, "runner-b").json["items"]
    # Its PipelineRun was created by runner-a: runner-b follows it (watcher/runner.py), the values delivered once.
    assert (again["execution_id"], again["status"], again["secret"]) == (execution_id, "running", None)
    assert again["pipeline_run"] == first["pipeline_run"]
    assert row(db, execution_id)["claimed_by"] == "runner-b"


def test_a_claim_counts_a_lapse_it_finds_and_the_third_is_left_to_fail(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    execution_id = started(client)["execution_id"]
    for runner in ("runner-a", "runner-b", "runner-c"):
        assert ids(claim(client, runner)) == [execution_id]
        lapse(db, execution_id)
    assert ids(claim(client, "runner-d")) == []  # the third lapse fails it (in the claim's own sweep)
    assert (row(db, execution_id)["status"], row(db, execution_id)["reason"]) == ("failed", "runner-lost")


def _request(target: dict[str, str] | None = None) -> Any:
    return parse_execution_request({"workflow_id": "stuck-rollout-restart", "incident": incident(),
                                    "parameters": stuck_parameters(), "target": target or new_target()})


def claimed_while_waiting(starter: ExecutionService) -> tuple[list[str], str, float]:
    """A claim waiting up to 10 s while ``starter`` starts an execution half a second in: what the claim got, the
    execution started, and how long the claim took."""
    answers: list[tuple[list[str], float]] = []

    def wait_for_work() -> None:
        began = time.monotonic()
        claimed = services().executions.claim(ClaimRequest("runner-a", 1, 10), "runner-a")
        answers.append(([c.execution_id for c in claimed], time.monotonic() - began))

    waiter = threading.Thread(target=wait_for_work)
    waiter.start()
    time.sleep(0.5)
    execution_id = starter.start(_request(), "agent").execution["execution_id"]
    waiter.join(timeout=15)
    (got, took) = answers.pop()
    return got, execution_id, took


def test_a_waiting_claim_wakes_when_this_process_makes_work_and_finds_another_processes_by_polling(
        client: ApiClient) -> None:
    create_workflow(client)
    got, here, took = claimed_while_waiting(services().executions)
    assert got == [here] and took < 2.5  # woken in-process, not at the end of the 10 s wait
    assert move(client, here, "running").status == 200  # no longer handed back to runner-a

    # Another process (its own ExecutionService: nothing wakes this one) starts one: the poll finds it.
    got, there, took = claimed_while_waiting(ExecutionService(services().db, services().sealer, 3600))
    assert got == [there] and took < 4.0


def test_a_waiting_claim_holds_no_database_connection(client: ApiClient, database_url: str) -> None:
    """One pooled connection: while a claim waits, other requests of the process still get it."""
    from chalicelib.stores.db import dsn_factory

    create_workflow(client)
    one = Database(dsn_factory(database_url), max_connections=1, acquire_timeout=1.0)
    service = ExecutionService(one, services().sealer, 3600)
    answers: list[list[str]] = []
    waiter = threading.Thread(target=lambda: answers.append(
        [c.execution_id for c in service.claim(ClaimRequest("runner-a", 1, 5), "runner-a")]))
    waiter.start()
    time.sleep(0.3)
    try:
        for _ in range(5):  # each would wait 1 s and fail if the claim kept the connection
            assert one.ping()
            time.sleep(0.2)
        execution_id = service.start(_request(), "agent").execution["execution_id"]
        waiter.join(timeout=10)
        assert answers == [[execution_id]]
    finally:
        one.close()


def test_a_claim_without_work_answers_empty_at_the_end_of_its_wait(client: ApiClient) -> None:
    began = time.monotonic()
    answer = claim(client, wait_seconds=1)
    assert ids(answer) == [] and 0.9 < time.monotonic() - began < 3.0


def test_stop_waiting_ends_the_waiting_claims_at_once_without_leasing(client: ApiClient) -> None:
    """What a stopping local server does, so that a claim it leaves behind leases nothing afterwards."""
    service = services().executions
    answers: list[tuple[list[str], float]] = []

    def wait() -> None:
        began = time.monotonic()
        answers.append(([c.execution_id for c in service.claim(ClaimRequest("runner-a", 1, 20), "runner-a")],
                        time.monotonic() - began))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    service.stop_waiting()
    waiter.join(timeout=5)
    assert answers and answers[0][0] == [] and answers[0][1] < 2.0
    create_workflow(client)
    started(client)  # a later claim still leases (the interruption ended only the waits of that moment)
    assert len(claim(client).json["items"]) == 1


def test_claim_lease_seconds_is_validated_and_gives_the_leases_length(client: ApiClient, db: Database) -> None:
    from chalicelib.config import load_settings
    from chalicelib.container import Services
    from chalicelib.domain.config_error import ConfigError

    assert load_settings({}).claim_lease_seconds == 60
    for bad in ("39", "3601", "soon", "-1"):  # at least twice a claim's longest wait
        with pytest.raises(ConfigError, match="CLAIM_LEASE_SECONDS"):
            load_settings({"CLAIM_LEASE_SECONDS": bad})
    create_workflow(client)
    execution_id = started(client)["execution_id"]
    short = Services(load_settings({**os.environ, "CLAIM_LEASE_SECONDS": "45"}))
    (item,) = short.executions.claim(ClaimRequest("runner-a", 1, 0), "runner-a")
    with db.reading() as cur:
        cur.execute("SELECT extract(epoch FROM lease_expires_at - claimed_at) AS seconds FROM executions "
                    "WHERE execution_id = %s", (execution_id,))
        assert round(cur.fetchone()["seconds"]) == 45
    assert item.execution_id == execution_id
    short.db.close()
