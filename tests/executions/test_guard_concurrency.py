"""The limits hold under concurrency (README, "Guardrails"): many real HTTP clients starting one workflow at once on
the local server never get more executions than a limit allows. Starts of one workflow take its row lock before they
check and insert, so each sees what the one before it committed."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    WRITE,
    count_executions,
    create_workflow,
    http_post,
    incident,
    set_guards,
    stuck_parameters,
)
from tests.support.guards import WORKFLOW, target

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
        return http_post(server + EXECUTIONS, token, body)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(one, range(CLIENTS)))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: limit, 409: CLIENTS - limit}, answers
    refusals = [answer for status, answer in answers if status == 409]
    assert {answer["type"].rsplit("/", 1)[-1] for answer in refusals} == {"rate-limited"}
    assert all(f"{setting} {limit}" in answer["detail"] and answer["retry_after"] >= 1 for answer in refusals)
    assert count_executions(db) == (limit, limit)  # each created one has its one event, and nothing else exists
