"""The guards hold under concurrency (README, "Guardrails"): many real HTTP clients starting one workflow at once on
the local server never get more executions than a limit allows (starts of one workflow take its row lock before they
check and insert, so each sees what the one before it committed), and executions failing together open the circuit
breaker exactly once (its evaluations of one workflow take turns)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.domain.guards import BREAKER_MIN_FINISHED
from chalicelib.domain.notifications import GUARD_CIRCUIT_OPENED
from chalicelib.services import guards
from chalicelib.stores import execution_store
from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    WRITE,
    count_executions,
    create_workflow,
    http_request,
    incident,
    set_guards,
    started,
    stuck_parameters,
)
from tests.support.guards import WORKFLOW, history, run, target
from tests.support.notifications import outbox

CLIENTS = 20


@pytest.mark.parametrize(("setting", "limit"), [("max_concurrent", 3), ("max_executions_per_hour", 5)])
def test_twenty_concurrent_starts_on_twenty_targets_create_exactly_the_limit(
        client: ApiClient, db: Database, server: str, setting: str, limit: int) -> None:
    create_workflow(client)
    assert set_guards(client, **{setting: limit}).status == 200
    token = client.token(*WRITE)
    ready = threading.Barrier(CLIENTS)

    def one(index: int) -> tuple[int, dict[str, Any]]:
        body = {"workflow_id": WORKFLOW, "incident": incident(), "parameters": stuck_parameters(),
                "target": target(f"svc-{index}", namespace=("shop", "payments")[index % 2])}
        ready.wait(timeout=30)  # all twenty in flight together
        return http_request("POST", server + EXECUTIONS, token, body)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(one, range(CLIENTS)))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: limit, 409: CLIENTS - limit}, answers
    refusals = [answer for status, answer in answers if status == 409]
    assert {answer["type"].rsplit("/", 1)[-1] for answer in refusals} == {"rate-limited"}
    assert all(f"{setting} {limit}" in answer["detail"] and answer["retry_after"] >= 1 for answer in refusals)
    assert count_executions(db) == (limit, limit)  # each created one has its one event, and nothing else exists


@pytest.mark.parametrize("committed", [
    BREAKER_MIN_FINISHED - 2,  # neither failure alone trips it; the two together must
    BREAKER_MIN_FINISHED - 1,  # either trips it; it must open once
])
def test_two_executions_failing_together_open_the_breaker_exactly_once(client: ApiClient, db: Database,
                                                                       committed: int) -> None:
    """The two finishing transactions interleave as concurrent reports can: the second evaluates while the first has
    evaluated and not committed yet. The breaker's lock makes the second wait and then see the first's failure."""
    create_workflow(client)
    for index in range(committed):
        run(client, target(f"done-{index}"), "failed")
    first, second = (started(client, target=target(f"svc-{index}"))["execution_id"] for index in range(2))
    evaluated, go_on = threading.Event(), threading.Event()

    def fail(execution_id: str, before_commit: Callable[[], object]) -> None:
        with db.transaction() as tx:  # what a runner's report of failed does
            row = execution_store.record_report(tx, execution_id, "failed", None, None, None, None, None, 60, 600)
            guards.trip_breaker(tx, row)
            before_commit()

    one = threading.Thread(target=fail, args=(first, lambda: (evaluated.set(), go_on.wait(10))))
    one.start()
    assert evaluated.wait(10)
    other = threading.Thread(target=fail, args=(second, lambda: None))
    other.start()
    other.join(timeout=0.5)
    waited = other.is_alive()  # the second waits for the first's commit
    go_on.set()
    one.join(timeout=10)
    other.join(timeout=10)
    assert waited
    assert [(r["from"], r["to"]) for r in history(client) if r["field"] == "circuit"] == [("closed", "open")]
    assert [event["data"]["failed"] for event in outbox(db) if event["event_type"] == GUARD_CIRCUIT_OPENED] == [
        committed + 2 if committed + 1 < BREAKER_MIN_FINISHED else committed + 1]
