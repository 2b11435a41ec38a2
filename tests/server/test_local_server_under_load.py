"""`make run`'s server tested as a server: a real process on a real port, many real HTTP clients at once.

One server (its own embedded PostgreSQL) for the module. The clients run in this process on
threads, each with its own keep-alive connection, the way concurrent agents and watchers use it.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.server import PROJECT_DIR, CatalogProcess

sys.path.insert(0, str(PROJECT_DIR / "bench"))
from load import Client, new_version, run_load

EXAMPLES = ["oomkill-increase-memory", "crashloop-rollback", "node-disk-cleanup", "certificate-renew"]


@pytest.fixture(scope="module")
def server() -> Iterator[CatalogProcess]:
    with CatalogProcess() as process:
        yield process


def test_valid_and_invalid_keys_interleaved_never_see_each_other(server: CatalogProcess) -> None:
    """8 clients with the key and 4 with a wrong one, all at once: no answer ever crosses over."""
    problems: list[str] = []
    created: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def valid(index: int) -> None:
        client = Client(server.url, server.key)
        start.wait()
        for n in range(25):
            wanted = EXAMPLES[(index + n) % len(EXAMPLES)]
            status, body = client.request("GET", f"/api/v1/playbooks/{wanted}")
            if status != 200 or body["workflow_id"] != wanted:
                problems.append(f"valid GET {wanted}: {status} {body and body.get('workflow_id')}")
            workflow_id = f"iso-{index}-{n}-{uuid.uuid4().hex[:6]}"
            status, body = client.request("POST", "/api/v1/playbooks", new_version(workflow_id))
            if status != 201 or body["workflow_id"] != workflow_id:
                problems.append(f"valid POST {workflow_id}: {status} {body and body.get('workflow_id')}")
            else:
                with lock:
                    created.append(workflow_id)

    def invalid(index: int) -> None:
        client = Client(server.url, f"rwc_wrong_{index}_{uuid.uuid4().hex}")
        start.wait()
        for n in range(25):
            wanted = EXAMPLES[(index + n) % len(EXAMPLES)]
            status, _ = client.request("GET", f"/api/v1/playbooks/{wanted}")
            if status != 401:
                problems.append(f"invalid GET answered {status}")
            status, _ = client.request("PATCH", f"/api/v1/playbooks/{wanted}",
                                          {"enabled": False, "reason": "must never be applied"})
            if status != 401:
                problems.append(f"invalid PATCH answered {status}")

    threads = [threading.Thread(target=valid, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=invalid, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert problems == []
    client = Client(server.url, server.key)
    for workflow_id in EXAMPLES:  # no wrong-key PATCH got through
        status, body = client.request("GET", f"/api/v1/playbooks/{workflow_id}")
        assert status == 200 and body["enabled"] is True
    for workflow_id in created:  # every 201 was a real write of that very version
        status, body = client.request("GET", f"/api/v1/playbooks/{workflow_id}")
        assert status == 200 and body["title"] == f"Load test workflow {workflow_id}"
    assert len(created) == 8 * 25


def test_128_concurrent_clients_mixing_reads_and_creates_get_every_answer_right(server: CatalogProcess) -> None:
    """The load benchmark at a small size: no reset, no timeout, no 5xx, every record right, no lost write."""
    result = run_load(server.url, server.key, clients=128, requests=640)
    assert result.errors == []
    assert result.requests == 640
    assert set(result.by_operation) == {"search", "list", "get", "create"}


def raw(server: CatalogProcess, method: str, path: str, headers: dict[str, str] | None = None,
        body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(data) if data else None
    finally:
        connection.close()


def test_one_json_line_per_request_with_a_correlation_id_even_before_any_handler(server: CatalogProcess) -> None:
    auth = {"Authorization": f"Bearer {server.key}"}
    cases = [  # (method, path, headers, body, status): answers given by the gateway and by the app
        ("GET", "/api/v1/playbooks", {}, None, 401),  # no Authorization header: never reaches a handler
        ("GET", "/api/v1/nowhere", auth, None, 404),  # unknown route
        ("DELETE", "/api/v1/playbooks", auth, None, 405),  # known route, other method
        ("GET", "/api/v1/playbooks", {"Authorization": "Bearer rwc_wrong"}, None, 401),
        ("GET", "/api/v1/playbooks/oomkill-increase-memory", auth, None, 200),
        ("POST", "/api/v1/playbooks", {**auth, "Content-Type": "application/json"}, b"{oops", 400),
    ]
    seen = {}
    for method, path, headers, body, expected in cases:
        correlation_id = f"case-{uuid.uuid4().hex}"
        status, response_headers, problem = raw(server, method, path, {**headers, "X-Correlation-Id": correlation_id},
                                                body)
        assert status == expected, (method, path, status, problem)
        assert response_headers["x-correlation-id"] == correlation_id
        if status >= 400:
            assert response_headers["content-type"] == "application/problem+json"
        if status == 405:
            assert problem["type"].endswith("/method-not-allowed") and "GET" in response_headers["allow"]
        seen[correlation_id] = (method, status)
    # A request without an id gets one generated, and still has its line.
    status, response_headers, _ = raw(server, "GET", "/api/v1/nowhere/either")
    assert status == 404 and response_headers["x-correlation-id"]
    seen[response_headers["x-correlation-id"]] = ("GET", 404)

    for correlation_id in seen:
        server.lines_with(f'"correlation_id":"{correlation_id}"', '"message":"request"')  # wait for its line
    lines = [line for line in server.lines() if line.startswith("{")]
    parsed = [json.loads(line) for line in lines]  # every line the server wrote is whole JSON
    requests = [line for line in parsed if line.get("message") == "request"]
    for correlation_id, (method, status) in seen.items():
        mine = [line for line in requests if line.get("correlation_id") == correlation_id]
        assert len(mine) == 1, (correlation_id, mine)
        assert (mine[0]["http_method"], mine[0]["status"]) == (method, status)
        assert mine[0]["latency_ms"] >= 0
    # Nothing but JSON after the banner: no plain-text access log on stdout or stderr.
    banner_end = next(i for i, line in enumerate(server.lines()) if line.startswith("Serving on "))
    assert all(line.startswith("{") for line in server.lines()[banner_end + 1:])


def test_the_key_is_printed_once_in_the_banner_and_never_logged(server: CatalogProcess) -> None:
    raw(server, "GET", "/api/v1/playbooks", {"Authorization": f"Bearer {server.key}"})
    output = "".join(server.lines())
    assert output.count(server.key) == 1
    banner = output[: output.index("Serving on ")]
    assert f"export KEY={server.key}" in banner


def test_logged_latency_is_the_whole_request_as_the_client_saw_it(server: CatalogProcess) -> None:
    """Measured from the request's arrival (before the key check), never longer than the client waited."""
    correlation_id = f"latency-{uuid.uuid4().hex}"
    began = time.perf_counter()
    raw(server, "GET", "/api/v1/playbooks?limit=1",
        {"Authorization": f"Bearer {server.key}", "X-Correlation-Id": correlation_id})
    client_ms = (time.perf_counter() - began) * 1000
    [line] = [json.loads(line) for line in server.lines_with(correlation_id, '"message":"request"')]
    assert 0 < line["latency_ms"] <= client_ms
