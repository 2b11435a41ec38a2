"""The workflow-version API (README, "The API"), through the HTTP layer against the real database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.catalog import BASE, EXAMPLE, catalog_snapshot, create, problem_type, workflow


class TestCreate:
    def test_create_returns_201_with_stored_fields(self, client: ApiClient) -> None:
        response = client.post(BASE, workflow("v1.0.0"))
        assert response.status == 201
        body = response.json
        assert body["version"] == "1.0.0"  # leading v normalised
        assert body["enabled"] is True and body["is_latest"] is True and body["status"] == "active"
        assert len(body["content_hash"]) == 64
        assert body["created_at"].endswith("Z")
        fetched = client.get(f"{BASE}/oomkill-increase-memory/versions/1.0.0").json
        assert fetched == body

    def test_identical_repost_is_200_with_same_record(self, client: ApiClient, db: Any) -> None:
        first = client.post(BASE, workflow("1.0.0")).json
        before = catalog_snapshot(db)
        again = client.post(BASE, workflow("v1.0.0"))
        assert again.status == 200
        assert again.json == first
        assert catalog_snapshot(db) == before

    def test_same_version_other_content_is_409_saying_bump(self, client: ApiClient, db: Any) -> None:
        create(client, "1.0.0")
        before = catalog_snapshot(db)
        response = client.post(BASE, workflow("1.0.0", title="Another title"))
        assert response.status == 409
        assert problem_type(response) == "content-conflict"
        assert "bump the version" in response.json["detail"]
        assert catalog_snapshot(db) == before

    def test_content_hash_is_sha256_of_canonical_content(self, client: ApiClient) -> None:
        import hashlib

        body = create(client, "1.0.0")
        content = {k: body[k] for k in ("title", "description", "labels", "container_image", "parameters")}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert body["content_hash"] == hashlib.sha256(canonical.encode()).hexdigest()

    def test_invalid_input_lists_every_problem_and_writes_nothing(self, client: ApiClient, db: Any) -> None:
        bad = workflow("1.0")
        bad["workflow_id"] = "Bad_ID"
        bad["container_image"] = "ghcr.io/acme/fix:1.0.0"
        del bad["labels"]["severity"]
        bad["parameters"]["properties"]["lower_case"] = {"type": "string", "description": "x"}
        bad["surprise"] = 1
        before = catalog_snapshot(db)
        response = client.post(BASE, bad)
        assert response.status == 400 and problem_type(response) == "validation-error"
        paths = {e["path"] for e in response.json["errors"]}
        assert {
            "$.workflow_id",
            "$.version",
            "$.container_image",
            "$.labels.severity",
            "$.parameters.properties.lower_case",
            "$.surprise",
        } <= paths
        assert catalog_snapshot(db) == before

    @pytest.mark.parametrize("reserved", ["search", "versions"])
    def test_reserved_ids_are_refused(self, client: ApiClient, reserved: str) -> None:
        response = client.post(BASE, workflow("1.0.0", workflow_id=reserved))
        assert response.status == 400
        assert any(e["path"] == "$.workflow_id" and "reserved" in e["message"] for e in response.json["errors"])

    def test_draft_status_on_create_is_not_latest(self, client: ApiClient) -> None:
        body = client.post(BASE, workflow("1.0.0", status="draft")).json
        assert body["status"] == "draft" and body["is_latest"] is False
        assert client.post(BASE, workflow("1.0.1", status="deprecated")).status == 400


class TestLatest:
    def test_latest_is_highest_active_semver_not_insertion_order(self, client: ApiClient) -> None:
        for version in ("1.10.0", "1.2.0", "1.9.9"):
            create(client, version, title=f"t {version}")
        body = client.get(f"{BASE}/oomkill-increase-memory").json
        assert body["latest_version"] == "1.10.0" and body["version"] == "1.10.0"
        assert [v["version"] for v in body["versions"]] == ["1.10.0", "1.9.9", "1.2.0"]

    def test_prerelease_ranks_below_its_release(self, client: ApiClient) -> None:
        create(client, "1.0.0", title="release")
        create(client, "1.0.0-rc.1", title="rc")
        assert client.get(f"{BASE}/oomkill-increase-memory").json["latest_version"] == "1.0.0"

    def test_reapplying_an_older_version_never_changes_latest(self, client: ApiClient) -> None:
        create(client, "1.0.0")
        create(client, "2.0.0", title="two")
        again = client.post(BASE, workflow("1.0.0"))
        assert again.status == 200 and again.json["is_latest"] is False
        assert client.get(f"{BASE}/oomkill-increase-memory").json["latest_version"] == "2.0.0"

    def test_unknown_workflow_is_404_problem(self, client: ApiClient) -> None:
        response = client.get(f"{BASE}/no-such-workflow")
        assert response.status == 404 and problem_type(response) == "not-found"
        assert response.json["instance"] == f"{BASE}/no-such-workflow"
        assert client.get(f"{BASE}/oomkill-increase-memory/versions/9.9.9").status == 404


class TestLifecycle:
    def path(self, version: str) -> str:
        return f"{BASE}/oomkill-increase-memory/versions/{version}"

    def test_draft_to_active_to_deprecated_and_deprecated_is_terminal(self, client: ApiClient) -> None:
        create(client, "1.0.0", status="draft")
        assert client.patch(self.path("1.0.0"), {"status": "active", "reason": "reviewed"}).json["is_latest"] is True
        deprecated = client.patch(self.path("1.0.0"), {"status": "deprecated", "reason": "replaced"})
        assert deprecated.json["status"] == "deprecated"
        for target in ("active", "draft"):
            response = client.patch(self.path("1.0.0"), {"status": target, "reason": "undo"})
            assert response.status in (400, 409)
        response = client.patch(self.path("1.0.0"), {"status": "active", "reason": "undo"})
        assert response.status == 409 and problem_type(response) == "invalid-transition"

    def test_active_cannot_go_back_to_draft(self, client: ApiClient) -> None:
        create(client, "1.0.0")
        response = client.patch(self.path("1.0.0"), {"status": "draft", "reason": "oops"})
        assert response.status in (400, 409)

    def test_content_fields_are_immutable(self, client: ApiClient) -> None:
        create(client, "1.0.0")
        response = client.patch(self.path("1.0.0"), {"status": "active", "reason": "x", "title": "new"})
        assert response.status == 409 and problem_type(response) == "immutable-field"
        assert "title" in response.json["detail"]

    def test_reason_is_required_and_changes_are_recorded(self, client: ApiClient) -> None:
        create(client, "1.0.0")
        assert client.patch(self.path("1.0.0"), {"status": "deprecated"}).status == 400
        client.patch(self.path("1.0.0"), {"status": "deprecated", "reason": "CVE-2026-1"})
        history = client.get(f"{BASE}/oomkill-increase-memory/versions").json
        changes = history["items"][0]["status_changes"]
        assert [(c["from"], c["to"], c["reason"]) for c in changes] == [
            (None, "active", "created"),
            ("active", "deprecated", "CVE-2026-1"),
        ]
        assert all(c["changed_by"] and c["changed_at"] for c in changes)


class TestEnableDisable:
    def test_disable_and_enable_with_reason(self, client: ApiClient) -> None:
        create(client, "1.0.0")
        path = f"{BASE}/oomkill-increase-memory"
        assert client.patch(path, {"enabled": False, "reason": "incident 42"}).json["enabled"] is False
        listed = client.get(f"{BASE}?enabled=false").json["items"]
        assert [i["workflow_id"] for i in listed] == ["oomkill-increase-memory"]
        assert client.get(f"{BASE}?enabled=true").json["items"] == []
        assert client.patch(path, {"enabled": True, "reason": "fixed"}).json["enabled"] is True
        history = client.get(f"{BASE}/versions?workflow_id=oomkill-increase-memory").json
        changes = [(c["to"], c["reason"]) for c in history["workflow_changes"]]
        assert changes == [("false", "incident 42"), ("true", "fixed")]

    def test_other_fields_are_immutable_and_reason_required(self, client: ApiClient) -> None:
        create(client, "1.0.0")
        path = f"{BASE}/oomkill-increase-memory"
        response = client.patch(path, {"enabled": False, "reason": "x", "labels": {}})
        assert response.status == 409 and problem_type(response) == "immutable-field"
        assert client.patch(path, {"enabled": False}).status == 400
        assert client.patch(f"{BASE}/nope", {"enabled": False, "reason": "x"}).status == 404


class TestRollback:
    def test_rollback_deprecates_everything_above_target_in_one_step(self, client: ApiClient) -> None:
        for version in ("1.0.0", "1.1.0", "1.2.0", "2.0.0-beta.1"):
            create(client, version, title=version)
        response = client.post(f"{BASE}/oomkill-increase-memory/rollback", {"to_version": "1.1.0", "reason": "bad 1.2"})
        assert response.status == 200
        assert response.json["deprecated_versions"] == ["1.2.0", "2.0.0-beta.1"]
        assert client.get(f"{BASE}/oomkill-increase-memory").json["latest_version"] == "1.1.0"
        assert client.get(f"{BASE}/oomkill-increase-memory/versions/1.0.0").json["status"] == "active"

    def test_rollback_to_inactive_version_is_409_and_changes_nothing(self, client: ApiClient, db: Any) -> None:
        create(client, "1.0.0")
        create(client, "1.1.0", title="b", status="draft")
        create(client, "1.2.0", title="c")
        before = catalog_snapshot(db)
        response = client.post(f"{BASE}/oomkill-increase-memory/rollback", {"to_version": "1.1.0", "reason": "x"})
        assert response.status == 409
        assert catalog_snapshot(db) == before
        missing = client.post(f"{BASE}/oomkill-increase-memory/rollback", {"to_version": "3.0.0", "reason": "x"})
        assert missing.status == 404


class TestListing:
    def test_list_filters_and_paginates_without_repeats(self, client: ApiClient) -> None:
        for index in range(7):
            labels = {**EXAMPLE["labels"], "component": "node" if index % 2 else "deployment"}
            create(client, "1.0.0", workflow_id=f"wf-{index}", labels=labels)
        seen: list[str] = []
        cursor = None
        while True:
            page = client.get(f"{BASE}?limit=3" + (f"&cursor={cursor}" if cursor else "")).json
            seen.extend(item["workflow_id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [f"wf-{i}" for i in range(7)]
        nodes = client.get(f"{BASE}?label.component=NODE").json["items"]
        assert [i["workflow_id"] for i in nodes] == ["wf-1", "wf-3", "wf-5"]
        assert client.get(f"{BASE}?signal_type=oomkilled").json["items"][0]["workflow_id"] == "wf-0"
        assert client.get(f"{BASE}?signal_type=Other").json["items"] == []

    def test_hostile_query_parameters_are_400(self, client: ApiClient) -> None:
        for query in (
            "limit=0",
            "limit=201",
            "limit=abc",
            "cursor=%%%",
            "cursor=bm90LWpzb24",
            "enabled=maybe",
            "status=weird",
            "label.x'%3B%20DROP%20TABLE%20workflows--=1",
        ):
            response = client.get(f"{BASE}?{query}")
            assert response.status == 400, query
            assert problem_type(response) == "validation-error"

    def test_label_values_are_bound_not_interpolated(self, client: ApiClient) -> None:
        create(client, "1.0.0")
        response = client.get(f"{BASE}?label.component=x%27)%20OR%201%3D1--")
        assert response.status == 200 and response.json["items"] == []


class TestHostileBodies:
    def test_malformed_json(self, client: ApiClient, db: Any) -> None:
        before = catalog_snapshot(db)
        for raw in (b"{", b"[]", b"null", b'{"a":1,"a":2}', b"\xff\xfe", b"[" * 100_000):
            response = client.request("POST", BASE, body=raw, headers={"Content-Type": "application/json"})
            assert response.status == 400, raw[:10]
            assert problem_type(response) == "validation-error"
        assert catalog_snapshot(db) == before

    def test_wrong_content_type_is_415(self, client: ApiClient) -> None:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "image/png"):
            response = client.request(
                "POST", BASE, body=json.dumps(workflow()).encode(), headers={"Content-Type": content_type}
            )
            assert response.status == 415, content_type
            assert problem_type(response) == "unsupported-media-type"

    def test_body_over_one_mebibyte_is_413(self, client: ApiClient) -> None:
        huge = workflow(description="x" * (1024 * 1024 + 1))
        response = client.post(BASE, huge)
        assert response.status == 413 and problem_type(response) == "payload-too-large"

    def test_wrong_types_and_absurd_sizes(self, client: ApiClient) -> None:
        cases = [
            workflow(version=1),
            workflow(labels="prod"),
            workflow(labels={**EXAMPLE["labels"], "severity": [1, 2]}),
            workflow(labels={**EXAMPLE["labels"], "x": ["v"] * 1000}),
            workflow(parameters=[]),
            workflow(title="t" * 10_000),
            workflow(
                parameters={
                    "type": "object",
                    "properties": {f"P{i}": {"type": "string", "description": "d"} for i in range(101)},
                }
            ),
            workflow(
                parameters={"type": "object", "properties": {"A": {"type": "string", "description": "d", "default": 3}}}
            ),
            workflow(
                parameters={
                    "type": "object",
                    "properties": {"A": {"$ref": "https://evil.example/x.json", "description": "d", "type": "string"}},
                }
            ),
            workflow(parameters={"type": "object", "additionalProperties": True}),
        ]
        for body in cases:
            response = client.post(BASE, body)
            assert response.status == 400, body
            assert response.json["errors"], body


class TestAuth:
    def test_missing_unknown_and_wrong_scope(self, client: ApiClient) -> None:
        missing = client.get(BASE, scopes=None)
        assert missing.status == 401 and problem_type(missing) == "unauthorized"
        unknown = client.get(BASE, scopes=None, headers={"Authorization": "Bearer rwc_nope"})
        assert unknown.status == 401 and problem_type(unknown) == "unauthorized"
        read_only = client.post(BASE, workflow(), scopes=("catalog:read",))
        assert read_only.status == 403 and problem_type(read_only) == "forbidden"
        assert client.post(BASE, workflow(), scopes=("catalog:write",)).status == 201
        assert client.get(BASE, scopes=("executions:write",)).status == 403

    def test_revoked_key_is_refused(self, client: ApiClient) -> None:
        from chalicelib.container import services

        key_id, token = services().api_keys.create("temp", ["catalog:read"])
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get(BASE, scopes=None, headers=headers).status == 200
        assert services().api_keys.revoke(key_id)
        assert client.get(BASE, scopes=None, headers=headers).status == 401

    def test_keys_are_stored_hashed(self, client: ApiClient, db: Any) -> None:
        token = client.token("catalog:read")
        with db.reading() as cur:
            cur.execute("SELECT * FROM api_keys")
            rows = json.dumps(cur.fetchall(), default=str)
        assert token not in rows

    def test_unknown_route_is_404_problem_and_healthz_is_public(self, client: ApiClient) -> None:
        response = client.get("/api/v1/nothing-here")
        assert response.status == 404 and problem_type(response) == "not-found"
        assert client.get("/healthz", scopes=None).json == {"status": "ok", "database": "ok"}


def test_correlation_id_is_echoed_or_generated(client: ApiClient) -> None:
    given = client.get("/healthz", scopes=None, headers={"X-Correlation-Id": "incident-42.a"})
    assert given.headers["X-Correlation-Id"] == "incident-42.a"
    generated = client.get("/healthz", scopes=None, headers={"X-Correlation-Id": "bad id\nwith newline"})
    assert len(generated.headers["X-Correlation-Id"]) == 36


def test_number_beyond_pythons_digit_limit_is_400(client: ApiClient) -> None:
    body = json.dumps(workflow()).replace('"1.0.0"', "1" + "0" * 5000, 1).encode()
    response = client.request("POST", BASE, body=body, headers={"Content-Type": "application/json"})
    assert response.status == 400 and problem_type(response) == "validation-error"


@pytest.mark.parametrize(
    ("raw_title", "why"),
    [('"a\\u0000b"', "NUL"), ('"\\ud800"', "surrogate"), ("NaN", "NaN"), ("Infinity", "Infinity")],
)
def test_text_postgres_cannot_store_is_400_not_500(client: ApiClient, db: Any, raw_title: str, why: str) -> None:
    body = json.dumps(workflow()).replace('"Increase memory limit after OOMKill"', raw_title, 1).encode()
    before = catalog_snapshot(db)
    response = client.request("POST", BASE, body=body, headers={"Content-Type": "application/json"})
    assert response.status == 400 and problem_type(response) == "validation-error", why
    assert catalog_snapshot(db) == before


def test_sql_orders_versions_by_semver_precedence(client: ApiClient) -> None:
    """The stored sort columns (COLLATE "C") give SemVer precedence in SQL, whatever the insertion order."""
    import random

    from tests.unit.test_versions import ORDERED

    shuffled = ORDERED[:]
    random.Random(4).shuffle(shuffled)
    for version in shuffled:
        create(client, version, title=f"t {version}")
    history = client.get(f"{BASE}/oomkill-increase-memory/versions?limit=7").json
    seen = [item["version"] for item in history["items"]]
    while history["next_cursor"]:
        history = client.get(f"{BASE}/oomkill-increase-memory/versions?limit=7&cursor={history['next_cursor']}").json
        seen.extend(item["version"] for item in history["items"])
    assert seen == ORDERED[::-1]
    assert client.get(f"{BASE}/oomkill-increase-memory").json["latest_version"] == ORDERED[-1]
