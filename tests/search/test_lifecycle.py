"""Only enabled workflows, only their latest active version, one result per workflow."""

from __future__ import annotations

from tests.support.api import ApiClient
from tests.support.search import BASE, publish, search

QUERY = "restart crash looping pod"


def versions_found(client: ApiClient) -> dict[str, str]:
    results = search(client, query=QUERY, top_k=100)["results"]
    found = [r["workflow_id"] for r in results]
    assert len(found) == len(set(found)), "one result per workflow"
    return {r["workflow_id"]: r["version"] for r in results}


def test_latest_active_version_only(client: ApiClient) -> None:
    publish(client, "two-actives", "1.0.0", title="Restart crash looping pod")
    publish(client, "two-actives", "1.1.0", title="Restart crash looping pod, gently")
    publish(client, "two-actives", "1.2.0-rc.1", title="Restart crash looping pod", status="draft")
    publish(client, "deprecated-top", "1.0.0", title="Restart crash looping pod")
    publish(client, "deprecated-top", "2.0.0", title="Restart crash looping pod v2")
    assert client.patch(f"{BASE}/deprecated-top/versions/2.0.0",
                        {"status": "deprecated", "reason": "broken"}).status == 200
    publish(client, "draft-only", "1.0.0", title="Restart crash looping pod", status="draft")
    assert versions_found(client) == {"two-actives": "1.1.0", "deprecated-top": "1.0.0"}


def test_disabled_workflows_are_never_returned(client: ApiClient) -> None:
    publish(client, "restart-pod", title="Restart crash looping pod")
    publish(client, "other-pod", title="Restart crash looping pod")
    assert client.patch(f"{BASE}/restart-pod", {"enabled": False, "reason": "incident 42"}).status == 200
    assert set(versions_found(client)) == {"other-pod"}
    assert set(versions_found_without_query(client)) == {"other-pod"}
    assert client.patch(f"{BASE}/restart-pod", {"enabled": True, "reason": "fixed"}).status == 200
    assert set(versions_found(client)) == {"restart-pod", "other-pod"}


def versions_found_without_query(client: ApiClient) -> list[str]:
    return [r["workflow_id"] for r in search(client, top_k=100)["results"]]


def test_only_deprecated_or_draft_versions_mean_no_result(client: ApiClient) -> None:
    publish(client, "gone", "1.0.0", title="Restart crash looping pod")
    assert client.patch(f"{BASE}/gone/versions/1.0.0", {"status": "deprecated", "reason": "retired"}).status == 200
    assert versions_found(client) == {}


def test_concurrent_versions_of_one_workflow_leave_the_highest_searchable(db: object) -> None:
    """Writers of one workflow on separate connections: the searchable row ends at the latest version."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.container import services
    from chalicelib.domain.search import SearchRequest
    from chalicelib.domain.workflows import parse_new_version

    def create(minor: int) -> bool:
        body = {"workflow_id": "busy", "version": f"1.{minor}.0", "title": "Restart crash looping pod",
                "description": f"Variant {minor}.", "labels": {"signal_type": "*", "severity": "*",
                                                              "environment": "*", "component": "*"},
                "container_image": f"ghcr.io/acme/busy:1.{minor}.0@sha256:{'b' * 64}",
                "parameters": {"type": "object", "properties": {}, "additionalProperties": False}}
        return services().workflows.create_version(parse_new_version(body), "concurrency").created

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(create, range(16)))
    hits = services().search.search(SearchRequest(query=QUERY)).hits
    assert [(h.workflow_id, h.version["version"]) for h in hits] == [("busy", "1.15.0")]
