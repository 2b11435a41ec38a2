"""Hostile requests found by fuzzing the running API (schemathesis) and by hand: each gets a clear
problem and changes nothing. Through Chalice's gateway emulation and, for what the HTTP server itself
refuses, through the real local server on a loopback port."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.catalog import BASE, catalog_snapshot, create, problem_type, workflow


@pytest.mark.parametrize("query_string", [
    "label.severity=critical%00",        # a NUL reached PostgreSQL: 500 before the fix
    "signal_type=%00",
    "label.sev%00erity=critical",
    "status=active%00",
])
def test_nul_in_the_query_string_is_a_400_not_a_500(client: ApiClient, db: Any, query_string: str) -> None:
    create(client, "1.0.0")
    before = catalog_snapshot(db)
    response = client.get(f"{BASE}?{query_string}")
    assert response.status == 400, response
    assert problem_type(response) == "validation-error"
    assert "NUL" in response.json["errors"][0]["message"]
    assert catalog_snapshot(db) == before


@pytest.mark.parametrize("path", [f"{BASE}?limit=1&limit=200", "/api/v1/executions?status=failed&status=pending"])
def test_a_repeated_query_parameter_is_refused_not_silently_resolved(client: ApiClient, path: str) -> None:
    response = client.get(path)
    assert response.status == 400, response
    assert problem_type(response) == "validation-error"
    assert response.json["errors"][0]["message"] == "give this parameter once"


@pytest.mark.parametrize("limit", ["%EF%BC%95", "1_0", "%205", "5%20", "0x5"])  # fullwidth 5, underscores, spaces
def test_limit_is_a_plain_decimal_integer(client: ApiClient, limit: str) -> None:
    response = client.get(f"{BASE}?limit={limit}")
    assert response.status == 400, response
    assert response.json["errors"] == [{"path": "$.limit", "message": "must be an integer"}]


def test_label_filters_are_capped(client: ApiClient) -> None:
    labels = "&".join(f"label.k{i}=v" for i in range(32))
    assert client.get(f"{BASE}?{labels}").status == 200
    response = client.get(f"{BASE}?{labels}&label.k32=v")
    assert response.status == 400
    assert problem_type(response) == "validation-error"


def test_percent_encoded_path_segments_are_decoded(client: ApiClient) -> None:
    create(client, "1.0.0+build.7")
    # HTTP clients encode "+" in a path segment; the version must still be found.
    response = client.get(f"{BASE}/oomkill-increase-memory/versions/1.0.0%2Bbuild.7")
    assert response.status == 200, response
    assert response.json["version"] == "1.0.0+build.7"
    assert client.get(f"{BASE}/oomkill%2Dincrease-memory").json["workflow_id"] == "oomkill-increase-memory"


@pytest.mark.parametrize("path", [
    f"{BASE}/oomkill-increase-memory%2F..%2Fx",
    f"{BASE}/oomkill%00",
    f"{BASE}/%FF%FE/versions",
    f"{BASE}/oomkill-increase-memory/versions/1.0.0%00",
    f"{BASE}/x/stats",
    "/api/v1/executions/%00",
    "/api/v1/registrations/a%00b",
])
def test_hostile_path_segments_are_404_problems(client: ApiClient, path: str) -> None:
    create(client, "1.0.0")
    response = client.get(path)
    assert response.status == 404, response
    assert problem_type(response) == "not-found"


# --- what the local HTTP server refuses before Chalice sees the request ----------------------------
@pytest.fixture
def server(db: Any) -> Iterator[tuple[str, int]]:
    from chalice.config import Config

    from app import app
    from devserver.local_server import LocalServer

    with LocalServer(app, Config.create(chalice_stage="local"), "127.0.0.1", 0).running() as local:
        yield local.host, local.port


def raw_request(address: tuple[str, int], method: str, path: str, headers: dict[str, str] | None = None
                ) -> tuple[int, str, dict[str, Any]]:
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "FOO"])
def test_an_unknown_method_is_a_405_problem_not_a_501_html_page(server: tuple[str, int], method: str) -> None:
    status, content_type, body = raw_request(server, method, BASE)
    assert (status, content_type) == (405, "application/problem+json")
    assert body["status"] == 405 and method in body["detail"]


@pytest.mark.parametrize("method", ["TRACE", "FOO"])
def test_an_unknown_method_names_the_methods_the_route_has_in_allow(server: tuple[str, int], method: str) -> None:
    connection = http.client.HTTPConnection(*server, timeout=10)
    try:
        connection.request(method, BASE, headers={"Authorization": "Bearer rwc_not_a_key"})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 405 and body.endswith(b"\n")
        assert sorted(m.strip() for m in (response.getheader("Allow") or "").split(",")) == ["GET", "POST"]
    finally:
        connection.close()


def test_json_bodies_end_with_a_newline(server: tuple[str, int], client: ApiClient) -> None:
    assert client.get(BASE).body.endswith(b"}\n")  # a handler's answer
    assert client.get(f"{BASE}/no-such-workflow").body.endswith(b"}\n")  # a problem
    assert client.get(BASE, scopes=None).body.endswith(b"}\n")  # the gateway's 401
    connection = http.client.HTTPConnection(*server, timeout=10)
    try:
        connection.request("GET", "/no/such/route")
        assert connection.getresponse().read().endswith(b"}\n")  # the local server's own answer
    finally:
        connection.close()


def test_an_over_long_uri_is_a_414_problem(server: tuple[str, int]) -> None:
    status, content_type, body = raw_request(server, "GET", f"{BASE}/search?query={'a' * 70_000}")
    assert (status, content_type) == (414, "application/problem+json")
    assert body["type"].endswith("/payload-too-large") and body["status"] == 414


def test_too_many_headers_is_a_431_problem(server: tuple[str, int]) -> None:
    status, content_type, body = raw_request(server, "GET", BASE, {f"X-Filler-{i}": "x" for i in range(120)})
    assert (status, content_type) == (431, "application/problem+json")
    assert body["type"].endswith("/payload-too-large") and body["status"] == 431


def test_a_version_beyond_the_integer_columns_is_a_400_and_stores_nothing(client: ApiClient, db: Any) -> None:
    before = catalog_snapshot(db)
    response = client.post(BASE, workflow("99999999999999999999999.0.0"))  # was a 500 (integer out of range)
    assert response.status == 400, response
    assert response.json["errors"][0]["path"] == "$.version"
    assert catalog_snapshot(db) == before
    assert client.get(f"{BASE}/oomkill-increase-memory/versions/99999999999999999999999.0.0").status == 404
