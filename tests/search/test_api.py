"""The HTTP contract of search: route, scopes, GET/POST parity, request validation, hostile input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.search.helpers import SEARCH, ids, publish, search
from tests.support.api import ApiClient


def problem(response: Any) -> dict[str, Any]:
    assert response.content_type.startswith("application/problem+json"), response
    return response.json


def test_search_is_not_taken_for_a_workflow_id(client: ApiClient) -> None:
    publish(client, "restart-pod", title="Restart pod")
    response = client.get(SEARCH, scopes=("catalog:read",))
    assert response.status == 200
    assert ids(response.json) == ["restart-pod"]


def test_scopes(client: ApiClient) -> None:
    assert client.get(SEARCH, scopes=None).status == 401
    assert client.get(SEARCH + "?query=x", scopes=("executions:write",)).status == 403
    assert client.post(SEARCH, {"query": "x"}, scopes=("registrations:write",)).status == 403


def test_get_and_post_give_the_same_answer(client: ApiClient) -> None:
    publish(client, "payments-restart", title="Restart payment pods", severity=["high"], business_category="payments")
    publish(client, "generic-restart", title="Restart pods")
    publish(client, "low-only", title="Restart pods quietly", severity="low")
    got = client.get(SEARCH + "?query=restart+pods&severity=HIGH&label.business_category=payments&top_k=5&min_score=0",
                     scopes=("catalog:read",))
    posted = search(client, query="restart pods", labels={"severity": "HIGH", "business_category": "payments"},
                    top_k=5, min_score=0)
    assert got.status == 200
    assert got.json == posted
    assert ids(posted) == ["payments-restart", "generic-restart"]


def test_top_k_default_and_bounds(client: ApiClient) -> None:
    for n in range(12):
        publish(client, f"restart-{n:02d}", title="Restart pod")
    assert len(search(client, query="restart")["results"]) == 10
    assert len(search(client, query="restart", top_k=3)["results"]) == 3
    assert len(search(client, top_k=100)["results"]) == 12
    assert client.get(SEARCH + "?top_k=2", scopes=("catalog:read",)).json["total"] == 2


@pytest.mark.parametrize("body", [
    {"top_k": 0}, {"top_k": 101}, {"top_k": "ten"}, {"top_k": True}, {"top_k": 2.5},
    {"min_score": 1.5}, {"min_score": -0.1}, {"min_score": "high"},
    {"query": 42}, {"query": "x" * 4001}, {"labels": ["severity"]}, {"labels": {"severity": ["high"]}},
    {"labels": {"severity": ""}}, {"labels": {"Severity": "high"}}, {"unexpected": 1},
])
def test_invalid_post_bodies_are_400(client: ApiClient, body: dict[str, Any]) -> None:
    response = client.post(SEARCH, body, scopes=("catalog:read",))
    assert response.status == 400
    assert problem(response)["type"].endswith("/validation-error")
    assert problem(response)["errors"]


@pytest.mark.parametrize("query_string", [
    "top_k=0", "top_k=101", "top_k=abc", "min_score=2", "min_score=nan",
    "label.x%27)%20OR%201%3D1--=a", "label.UPPER=a", "label.=a", "label.a%3Bdrop=1",
    # found by fuzzing: int()/float() took these as 10, 5, 5, 0.5, 1 and inf
    "top_k=1_0", "top_k=%EF%BC%95", "top_k=%205", "min_score=0_5", "min_score=%EF%BC%91", "min_score=infinity",
    "top_k=1&top_k=100", "label.severity=high%00", "query=restart%00",
])
def test_invalid_query_strings_are_400(client: ApiClient, query_string: str) -> None:
    response = client.get(f"{SEARCH}?{query_string}", scopes=("catalog:read",))
    assert response.status == 400
    assert problem(response)["type"].endswith("/validation-error")


def test_an_integral_json_number_is_an_integer_top_k(client: ApiClient) -> None:
    """JSON (and JSON Schema's "integer", as the OpenAPI document says) does not tell 3.0 from 3."""
    for n in range(4):
        publish(client, f"restart-{n}", title="Restart pod")
    assert len(search(client, query="restart", top_k=3.0)["results"]) == 3
    response = client.post(SEARCH, {"query": "restart", "top_k": 3.5}, scopes=("catalog:read",))
    assert response.status == 400
    assert problem(response)["errors"] == [{"path": "$.top_k", "message": "must be an integer"}]


def test_hostile_label_keys_and_values_change_nothing(client: ApiClient, db: Any) -> None:
    publish(client, "restart-pod", title="Restart pod", priority="P1")
    hostile_keys = {"severity') OR 1=1 --": "x", "a;DROP TABLE workflows": "x", "label'": "x"}
    for key, value in hostile_keys.items():
        response = client.post(SEARCH, {"labels": {key: value}}, scopes=("catalog:read",))
        assert response.status == 400
        assert any(key in e["path"] for e in problem(response)["errors"])
    hostile_values = ["P1' OR '1'='1", "'; DROP TABLE workflows; --", "%", "_", "\\", "P1\x00"]
    for value in hostile_values:
        response = client.post(SEARCH, {"query": value, "labels": {"priority": value}}, scopes=("catalog:read",))
        assert response.status in (200, 400)
        if response.status == 200:
            assert response.json["results"] == []
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM workflows")
        assert cur.fetchone()["n"] == 1
    assert ids(search(client, labels={"priority": "p1"})) == ["restart-pod"]
