"""API keys over HTTP (admin): create (the key shown once), list (no secrets, paged), revoke."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from chalicelib.container import services
from tests.support.api import ApiClient
from tests.support.catalog import problem_type
from tests.support.keys import bearer

KEYS = "/api/v1/api-keys"


def key_rows(db: Any) -> list[dict[str, Any]]:
    with db.reading() as cur:
        cur.execute("SELECT * FROM api_keys ORDER BY created_at, key_id")
        return [dict(row) for row in cur.fetchall()]


def test_a_created_key_is_shown_once_works_for_its_scopes_and_is_stored_hashed(client: ApiClient, db: Any) -> None:
    created = client.post(KEYS, {"name": " ci-bot ", "scopes": ["catalog:read", "executions:approve"]})
    assert created.status == 201, created
    body = created.json
    token = body["api_key"]
    assert token.startswith("rwc_") and body["name"] == "ci-bot" and body["revoked_at"] is None
    assert body["scopes"] == ["catalog:read", "executions:approve"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/playbooks", scopes=None, headers=bearer).status == 200
    assert client.post("/api/v1/playbooks", {}, scopes=None, headers=bearer).status == 403  # no catalog:write
    assert client.get(KEYS, scopes=None, headers=bearer).status == 403  # managing keys needs admin

    listed = client.get(KEYS).json["items"]
    assert [item for item in listed if item["key_id"] == body["key_id"]] == [
        {key: body[key] for key in ("key_id", "name", "scopes", "namespaces", "cluster", "created_at",
                                    "revoked_at")}]
    everything = str(key_rows(db)) + client.get(KEYS).body.decode()
    assert token not in everything  # neither the list nor the table holds it ...
    assert hashlib.sha256(token.encode()).hexdigest() in everything  # ... the table holds its hash


def test_revoking_stops_the_key_and_is_idempotent(client: ApiClient) -> None:
    body = client.post(KEYS, {"name": "temporary", "scopes": ["catalog:read"]}).json
    bearer = {"Authorization": f"Bearer {body['api_key']}"}
    assert client.get("/api/v1/playbooks", scopes=None, headers=bearer).status == 200
    revoked = client.delete(f"{KEYS}/{body['key_id']}")
    assert (revoked.status, revoked.body) == (204, b"")
    assert client.get("/api/v1/playbooks", scopes=None, headers=bearer).status == 401
    assert client.delete(f"{KEYS}/{body['key_id']}").status == 204
    [listed] = [item for item in client.get(KEYS).json["items"] if item["key_id"] == body["key_id"]]
    assert listed["revoked_at"] is not None


@pytest.mark.parametrize("key_id", ["nope", "k" * 300, "%27%20OR%201%3D1"])
def test_revoking_an_unknown_key_is_404(client: ApiClient, key_id: str) -> None:
    response = client.delete(f"{KEYS}/{key_id}")
    assert response.status == 404 and problem_type(response) == "not-found"


def test_the_list_pages_in_creation_order_without_repeats(client: ApiClient) -> None:
    made = [client.post(KEYS, {"name": f"k{i}", "scopes": ["catalog:read"]}).json["key_id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        page = client.get(f"{KEYS}?limit=3" + (f"&cursor={cursor}" if cursor else "")).json
        assert len(page["items"]) <= 3
        seen += [item["key_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert [key for key in seen if key in made] == made  # oldest first (the admin key of the client came first)


@pytest.mark.parametrize(("body", "path"), [
    ({}, "$.name"),
    ({"name": "x"}, "$.scopes"),
    ({"name": "", "scopes": ["admin"]}, "$.name"),
    ({"name": "x" * 101, "scopes": ["admin"]}, "$.name"),
    ({"name": "x", "scopes": []}, "$.scopes"),
    ({"name": "x", "scopes": ["root"]}, "$.scopes[0]"),
    ({"name": "x", "scopes": ["admin", "admin"]}, "$.scopes"),
    ({"name": "x", "scopes": "admin"}, "$.scopes"),
    ({"name": "x", "scopes": ["admin"], "expires": "never"}, "$.expires"),
])
def test_bad_requests_are_400_and_create_nothing(client: ApiClient, db: Any, body: dict[str, Any], path: str) -> None:
    client.get(KEYS)  # the client's admin key exists before counting
    before = key_rows(db)
    response = client.post(KEYS, body)
    assert response.status == 400 and problem_type(response) == "validation-error", response
    assert path in {error["path"] for error in response.json["errors"]}
    assert key_rows(db) == before


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "cursor=garbage", "cursor=WyJ4IiwieSJd", "name=x"])
def test_bad_list_queries_are_400(client: ApiClient, query: str) -> None:
    response = client.get(f"{KEYS}?{query}")
    assert response.status == 400 and problem_type(response) == "validation-error"


def test_only_admin_manages_keys(client: ApiClient) -> None:
    for scopes in (("catalog:write",), ("executions:approve", "executions:write", "registrations:write")):
        assert client.post(KEYS, {"name": "x", "scopes": ["admin"]}, scopes=scopes).status == 403
        assert client.get(KEYS, scopes=scopes).status == 403
        assert client.delete(f"{KEYS}/whatever", scopes=scopes).status == 403
    assert client.get(KEYS, scopes=None).status == 401


def test_a_key_limited_to_namespaces_is_created_over_http_and_listed_with_them(client: ApiClient) -> None:
    created = client.post(KEYS, {"name": "team-a watcher", "scopes": ["registrations:write"],
                                 "namespaces": ["team-a"]})
    assert created.status == 201 and created.json["namespaces"] == ["team-a"]
    [listed] = [k for k in client.get(KEYS).json["items"] if k["key_id"] == created.json["key_id"]]
    assert listed["namespaces"] == ["team-a"]
    bearer = {"Authorization": f"Bearer {created.json['api_key']}"}
    refused = client.post("/api/v1/registrations/reconcile", {"scope": {"namespace": None}, "live": []},
                          scopes=None, headers=bearer)
    assert refused.status == 403
    bad = client.post(KEYS, {"name": "x", "scopes": ["catalog:read"], "namespaces": ["Not_A_Namespace"]})
    assert bad.status == 400 and bad.json["errors"][0]["path"] == "$.namespaces[0]"


# --- no escalation: a key creates, lists and revokes only keys within its own limits -----------------------------
def test_a_limited_admin_key_cannot_create_a_key_beyond_its_limits(client: ApiClient, db: Any) -> None:
    team_a = bearer("admin", namespaces=["team-a"], name="team-a admin")
    east = bearer("admin", cluster="east", name="east admin")
    before = key_rows(db)
    for body, beyond in (
        ({"name": "root", "scopes": ["admin"]}, "every namespace"),  # was: 201, an unlimited admin key
        ({"name": "wider", "scopes": ["catalog:read"], "namespaces": ["team-a", "team-b"]}, "namespaces team-b"),
        ({"name": "other", "scopes": ["executions:write"], "namespaces": ["team-b"]}, "namespaces team-b"),
    ):
        refused = client.post(KEYS, body, scopes=None, headers=team_a)
        assert refused.status == 403 and problem_type(refused) == "forbidden", refused
        assert beyond in refused.json["detail"] and "namespaces team-a" in refused.json["detail"]
    for body in ({"name": "unbound", "scopes": ["catalog:read"]},
                 {"name": "west", "scopes": ["catalog:read"], "cluster": "west"}):
        refused = client.post(KEYS, body, scopes=None, headers=east)
        assert refused.status == 403 and "cluster 'east'" in refused.json["detail"], refused
    assert key_rows(db) == before
    # Within its limits: fine (and an unlimited key may create limited ones).
    assert client.post(KEYS, {"name": "a-watcher", "scopes": ["registrations:write"], "namespaces": ["team-a"]},
                       scopes=None, headers=team_a).status == 201
    assert client.post(KEYS, {"name": "e", "scopes": ["catalog:read"], "cluster": "east"}, scopes=None,
                       headers=east).status == 201
    assert client.post(KEYS, {"name": "b", "scopes": ["admin"], "namespaces": ["team-b"], "cluster": "west"}
                       ).status == 201


def test_a_key_never_grants_scopes_it_does_not_hold(db: Any) -> None:
    """Creating keys takes admin over HTTP, which implies every scope; the rule itself holds for any key."""
    from chalicelib.domain.errors import Forbidden
    from chalicelib.services.api_keys import Principal

    writer = Principal("k", "writer", frozenset({"executions:write", "catalog:read"}))
    before = key_rows(db)
    for scopes in (["admin"], ["executions:approve"], ["catalog:read", "catalog:write"]):
        with pytest.raises(Forbidden, match="the scopes"):
            services().api_keys.issue("more", scopes, creator=writer)
    assert key_rows(db) == before
    services().api_keys.issue("same or less", ["catalog:read"], creator=writer)


def test_a_limited_admin_lists_and_revokes_only_keys_within_its_limits(client: ApiClient, db: Any) -> None:
    team_a = bearer("admin", namespaces=["team-a"], name="team-a admin")
    own = client.post(KEYS, {"name": "a-watcher", "scopes": ["registrations:write"], "namespaces": ["team-a"]},
                      scopes=None, headers=team_a).json
    others = [client.post(KEYS, body).json for body in (
        {"name": "unlimited", "scopes": ["catalog:read"]},
        {"name": "team-b", "scopes": ["catalog:read"], "namespaces": ["team-b"]},
        {"name": "a-and-b", "scopes": ["catalog:read"], "namespaces": ["team-a", "team-b"]},
        {"name": "a-in-east", "scopes": ["catalog:read"], "namespaces": ["team-a"], "cluster": "east"},
    )]
    listed = {item["name"] for item in client.get(KEYS, scopes=None, headers=team_a).json["items"]}
    assert listed == {"team-a admin", "a-watcher", "a-in-east"}  # a-in-east: team-a, and team-a's key is unbound
    east = bearer("admin", cluster="east", name="east admin")
    assert {i["name"] for i in client.get(KEYS, scopes=None, headers=east).json["items"]} == {"east admin",
                                                                                             "a-in-east"}
    before = key_rows(db)
    for other in others[:3]:
        refused = client.delete(f"{KEYS}/{other['key_id']}", scopes=None, headers=team_a)
        assert refused.status == 403 and problem_type(refused) == "forbidden", refused  # was: 204, revoked
    assert client.delete(f"{KEYS}/{others[0]['key_id']}", scopes=None, headers=east).status == 403
    assert key_rows(db) == before
    assert client.delete(f"{KEYS}/{own['key_id']}", scopes=None, headers=team_a).status == 204
    assert client.delete(f"{KEYS}/no-such-key", scopes=None, headers=team_a).status == 404
