"""Faults a server meets: the process killed mid-job, the database stopped and started under load.

Nothing may stay stuck: every registration reaches succeeded or failed; while the database is away
requests answer 503 with Retry-After quickly (no hang, no other 5xx), and it all works again within
seconds once the database is back. Leases and sweeps are shortened so the test stays short.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import oci
from tests.support.postgres import StandalonePostgres
from tests.support.registry import GatedProxy, LocalRegistry
from tests.support.resources import event, rw
from tests.support.server import CatalogProcess, client_for

FAST_RECOVERY = {"REGISTRATION_LEASE_SECONDS": "3", "REGISTRATION_SWEEP_SECONDS": "1",
                 "POWERTOOLS_METRICS_DISABLED": "true"}


def push_workflow(registry: LocalRegistry, workflow_id: str) -> str:
    """Pushes a workflow image; returns its repository (``acme/<workflow_id>``)."""
    image = oci.image(oci.layer({"bin/remediate.sh": b"#!/bin/sh\n"}),
                      oci.schema_layer(oci.playbook_schema(workflow_id=workflow_id)))
    registry.pusher.push_image(f"acme/{workflow_id}", "1.0.0", image)
    return f"acme/{workflow_id}"


def wait_until(condition: Callable[[], bool], timeout: float, what: str, state: Callable[[], Any] = lambda: None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"not within {timeout}s: {what} (now: {state()})")


def statuses(client: Any, ids: list[str]) -> dict[str, str]:
    return {rid: client.request("GET", f"/api/v1/registrations/{rid}")[1]["status"] for rid in ids}


def test_registrations_killed_mid_pull_finish_after_a_restart(oci_registry: LocalRegistry) -> None:
    proxy = GatedProxy(oci_registry.host)  # a registry that hangs until opened
    env = {**FAST_RECOVERY, "INSECURE_REGISTRIES": proxy.host}
    workflow_ids = [f"killed-{n}-{uuid.uuid4().hex[:6]}" for n in range(3)]
    repositories = [push_workflow(oci_registry, workflow_id) for workflow_id in workflow_ids]
    first = CatalogProcess(env=env).start()
    try:
        client = client_for(first)
        ids = []
        for workflow_id, repository in zip(workflow_ids, repositories, strict=True):
            status, body = client.request("POST", "/api/v1/registrations",
                                          event("ADDED", rw(f"{proxy.host}/{repository}:1.0.0", name=workflow_id)))
            assert status == 202
            ids.append(body["registration_id"])
        # Two workers pull (and hang); the third job waits in the queue.
        wait_until(lambda: sorted(statuses(client, ids).values()) == ["pending", "running", "running"], 30,
                   "two registrations running, one pending",
                   lambda: [client.request("GET", f"/api/v1/registrations/{rid}")[1] for rid in ids])
        first.kill()  # SIGKILL mid-pull: no cleanup, leases left behind
        proxy.open()
        second = CatalogProcess(data_dir=first.data_dir, env=env, key=first.key).start()
        try:
            client = client_for(second)
            wait_until(lambda: set(statuses(client, ids).values()) == {"succeeded"}, 60,
                       "every registration succeeded after the restart")
            for workflow_id in workflow_ids:
                status, body = client.request("GET", f"/api/v1/playbooks/{workflow_id}")
                assert status == 200 and body["version"] == "1.0.0"
            attempts = [client.request("GET", f"/api/v1/registrations/{rid}")[1]["attempts"] for rid in ids]
            assert sorted(attempts) == [1, 2, 2]  # the two cut off mid-pull ran again; the queued one ran once
        finally:
            second.stop()
    finally:
        first.remove_data()  # killed, its database stopped, its folder deleted
        proxy.close()


@pytest.fixture
def standalone_postgres() -> Iterator[StandalonePostgres]:
    postgres = StandalonePostgres()
    yield postgres
    postgres.destroy()


def test_database_stopped_and_started_under_load(standalone_postgres: StandalonePostgres,
                                                 oci_registry: LocalRegistry) -> None:
    env = {**FAST_RECOVERY, "DATABASE_URL": standalone_postgres.url, "INSECURE_REGISTRIES": oci_registry.host}
    with CatalogProcess(env=env) as server:
        answers: list[tuple[float, int, str | None, float]] = []  # (when, status, Retry-After, seconds taken)
        failures: list[str] = []
        stop = threading.Event()

        def load(index: int) -> None:
            client = client_for(server)
            while not stop.is_set():
                path = "/api/v1/playbooks/oomkill-increase-memory" if index % 2 else "/api/v1/playbooks/search?query=oom"
                began = time.monotonic()
                try:
                    status, body, retry_after = _request_with_headers(client, path)
                except Exception as exc:  # a reset or a timeout is a failure a client must never see
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                answers.append((began, status, retry_after, time.monotonic() - began))
                if status not in (200, 503):
                    failures.append(f"{status}: {body}")
                time.sleep(0.01)

        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        stopped_at = time.monotonic()
        standalone_postgres.stop()
        time.sleep(3.0)
        standalone_postgres.start()
        started_at = time.monotonic()
        time.sleep(4.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        assert failures == []
        down = [a for a in answers if stopped_at + 0.5 < a[0] < started_at - 0.5]
        assert down and all(status == 503 and retry_after for _, status, retry_after, _ in down)
        assert max(seconds for *_, seconds in answers) < 6.0  # a down database costs a bounded, short wait
        back = [a for a in answers if a[0] > started_at]
        first_success = min(when for when, status, *_ in back if status == 200)
        assert first_success - started_at < 4.0
        assert all(status == 200 for when, status, *_ in back if when > first_success + 0.5)

        # Registrations submitted after the restart finish (workers got fresh connections).
        client = client_for(server)
        ids = []
        for n in range(2):
            workflow_id = f"after-restart-{n}-{uuid.uuid4().hex[:6]}"
            repository = push_workflow(oci_registry, workflow_id)
            status, body = client.request("POST", "/api/v1/registrations",
                                          event("ADDED", rw(oci_registry.reference(repository, "1.0.0"),
                                                            name=workflow_id)))
            assert status == 202
            ids.append(body["registration_id"])
        wait_until(lambda: set(statuses(client, ids).values()) == {"succeeded"}, 30, "registrations after restart")


def _request_with_headers(client: Any, path: str) -> tuple[int, Any, str | None]:
    """GET through the client's connection, also returning the Retry-After header."""
    import http.client
    import json

    if client._connection is None:
        client._connection = http.client.HTTPConnection(client._host, client._port, timeout=30)
    try:
        client._connection.request("GET", path, headers=client._headers)
        response = client._connection.getresponse()
        raw = response.read()
    except Exception:
        client.close()
        raise
    return response.status, json.loads(raw) if raw else None, response.getheader("Retry-After")
