"""Request logs as CloudWatch users filter them, and the API-key admin command."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from chalicelib import cli
from tests.support.api import ApiClient
from tests.support.catalog import create
from tests.support.logs import LogCapture, captured_logs


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    with captured_logs() as capture:
        yield capture


def test_one_structured_line_per_request_with_ids(client: ApiClient, logs: LogCapture) -> None:
    create(client, "1.0.0")
    logs.lines()
    token = client.token("catalog:read")
    client.get(
        "/api/v1/playbooks/oomkill-increase-memory/versions/1.0.0",
        scopes=("catalog:read",),
        headers={"X-Correlation-Id": "trace-me-1"},
    )
    lines = logs.requests()
    assert len(lines) == 1
    line = lines[0]
    assert line["route"] == "/api/v1/playbooks/{workflow_id}/versions/{version}"
    assert line["path"] == "/api/v1/playbooks/oomkill-increase-memory/versions/1.0.0"
    assert line["status"] == 200 and line["latency_ms"] >= 0 and line["level"] == "INFO"
    assert (line["workflow_id"], line["version"], line["correlation_id"]) == (
        "oomkill-increase-memory",
        "1.0.0",
        "trace-me-1",
    )
    assert token not in json.dumps(line)


def test_error_lines_carry_the_problem_type(client: ApiClient, logs: LogCapture) -> None:
    client.get("/api/v1/playbooks/nope")
    (line,) = logs.requests()
    assert (line["status"], line["problem_type"]) == (404, "not-found")


def test_ids_do_not_leak_into_the_next_request(client: ApiClient, logs: LogCapture) -> None:
    client.get("/api/v1/playbooks/oomkill-increase-memory")
    logs.lines()
    client.get("/healthz", scopes=None)
    (line,) = logs.requests()
    assert "workflow_id" not in line


def test_keys_create_list_revoke(client: ApiClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "create", "ci-bot", "catalog:read", "executions:write"]) == 0
    out = capsys.readouterr().out
    token = out.split("token", 1)[1].split()[0]
    key_id = out.split("key_id", 1)[1].split()[0]
    assert client.get("/api/v1/playbooks", scopes=None, headers={"Authorization": f"Bearer {token}"}).status == 200
    assert cli.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "ci-bot" in listing and token not in listing
    assert cli.main(["keys", "revoke", key_id]) == 0
    assert client.get("/api/v1/playbooks", scopes=None, headers={"Authorization": f"Bearer {token}"}).status == 401
    assert cli.main(["keys", "create", "bad", "root"]) == 2
    assert '$.scopes[0]: must be one of "catalog:read"' in capsys.readouterr().err


def test_reembed_command_reports_every_version(client: ApiClient, capsys: pytest.CaptureFixture[str]) -> None:
    create(client, "1.0.0")
    create(client, "1.1.0", title="other")
    assert cli.main(["reembed"]) == 0
    captured = capsys.readouterr()
    assert "re-embedded 2 versions" in captured.out
    assert "2/2" in captured.err  # the progress bar
    found = client.get("/api/v1/playbooks/search?query=memory+limit+OOMKilled").json["results"]
    assert [hit["workflow_id"] for hit in found] == ["oomkill-increase-memory"]


def test_latency_counts_from_the_arrival_the_gateway_stamped(logs: LogCapture) -> None:
    """API Gateway (and the local server) put the arrival time in the event: the key check and any
    queueing before the handler are part of the logged latency."""
    from chalice import Response
    from chalice.app import Request

    from chalicelib.http.middleware import request_middleware

    arrived_ms = (time.time() - 0.25) * 1000
    event = {"multiValueQueryStringParameters": None, "headers": {}, "pathParameters": None,
             "requestContext": {"httpMethod": "GET", "resourcePath": "/healthz", "path": "/healthz",
                                "requestTimeEpoch": arrived_ms},
             "body": None, "isBase64Encoded": False, "stageVariables": None}
    request_middleware(Request(event), lambda request: Response(body={}, status_code=200))
    (line,) = logs.requests()
    assert line["latency_ms"] >= 250


def test_load_examples_leaves_examples_owned_by_resources_to_them(
    client: ApiClient, capsys: pytest.CaptureFixture[str],
) -> None:
    """A catalog whose example workflow was registered from a resource (migration 012 made it the resource's) still
    starts: `make run` loads the other examples and says which it left alone."""
    create(client, "1.0.0")  # oomkill-increase-memory, as examples/workflows holds it
    moved = client.patch("/api/v1/playbooks/oomkill-increase-memory", {
        "owner": {"kind": "resource", "cluster": "default", "namespace": "remediation"}, "reason": "registered"})
    assert moved.status == 200
    assert cli.main(["load-examples"]) == 0
    out = capsys.readouterr().out
    assert "1 owned by resources and left to them (oomkill-increase-memory)" in out
    assert client.get("/api/v1/playbooks/oomkill-increase-memory").json["owner"]["kind"] == "resource"
