"""GET /api/v1/playbooks/{id}/stats: counts, success rate, mean and median duration per version (the effectiveness
counts and the per-signal statistics: tests/alerts/test_effectiveness.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.executions import PLAYBOOKS, READ, create_workflow, move, problem_type, started


def run(client: ApiClient, version: str, *statuses: str) -> str:
    execution_id = started(client, version=version)["execution_id"]
    for status in statuses:
        assert move(client, execution_id, status).status == 200
    return execution_id


def pin_duration(db: Any, execution_id: str, seconds: float) -> None:
    """Real runs take real time; pinning started_at/finished_at makes the expected mean exact."""
    with db.transaction() as cur:
        cur.execute("""UPDATE executions SET started_at = timestamptz '2030-01-01 00:00:00+00',
                              finished_at = timestamptz '2030-01-01 00:00:00+00' + make_interval(secs => %s)
                       WHERE execution_id = %s""", (seconds, execution_id))


def test_per_version_counts_rate_and_mean_duration(client: ApiClient, db: Any) -> None:
    for version in ("1.0.0", "1.1.0"):
        create_workflow(client, version=version)
    create_workflow(client, version="2.0.0", status="draft")
    for seconds in (10, 20, 30.5):
        pin_duration(db, run(client, "1.0.0", "running", "succeeded"), seconds)
    pin_duration(db, run(client, "1.0.0", "running", "failed"), 39.5)
    run(client, "1.0.0", "failed")  # failed while pending: counts as failed, has no duration
    run(client, "1.0.0", "running")
    run(client, "1.0.0")
    run(client, "1.1.0")

    response = client.get(f"{PLAYBOOKS}/stuck-rollout-restart/stats", scopes=READ)
    assert response.status == 200
    body = response.json
    assert body["workflow_id"] == "stuck-rollout-restart"
    by_version = {row["version"]: row for row in body["versions"]}
    assert [row["version"] for row in body["versions"]] == ["2.0.0", "1.1.0", "1.0.0"]
    waiting = {"awaiting_approval": 0, "approved": 0, "rejected": 0, "expired": 0}  # see test_approvals.py
    unjudged = {"judged": 0, "effective": 0, "ineffective": 0, "unknown": 0, "effectiveness_rate": None}
    assert by_version["1.0.0"] == {
        "version": "1.0.0", "status": "active", "executions": 7, "pending": 1, "running": 1, "succeeded": 3,
        "failed": 2, "success_rate": 0.6, "mean_duration_seconds": pytest.approx(25.0),
        "median_duration_seconds": pytest.approx(25.25), "composite_runs": 0, **waiting, **unjudged,
    }
    assert by_version["1.1.0"] == {
        "version": "1.1.0", "status": "active", "executions": 1, "pending": 1, "running": 0, "succeeded": 0,
        "failed": 0, "success_rate": None, "mean_duration_seconds": None, "median_duration_seconds": None,
        "composite_runs": 0, **waiting, **unjudged,
    }
    assert by_version["2.0.0"]["executions"] == 0 and by_version["2.0.0"]["success_rate"] is None


def test_all_failed_is_a_rate_of_zero_not_null(client: ApiClient) -> None:
    create_workflow(client)
    run(client, "1.0.0", "failed")
    (row,) = client.get(f"{PLAYBOOKS}/stuck-rollout-restart/stats", scopes=READ).json["versions"]
    assert row["success_rate"] == 0.0 and row["failed"] == 1 and row["mean_duration_seconds"] is None


def test_stats_of_a_disabled_workflow_are_still_readable(client: ApiClient) -> None:
    create_workflow(client)
    run(client, "1.0.0", "running", "succeeded")
    client.patch(f"{PLAYBOOKS}/stuck-rollout-restart", {"enabled": False, "reason": "r"}, scopes=("catalog:write",))
    (row,) = client.get(f"{PLAYBOOKS}/stuck-rollout-restart/stats", scopes=READ).json["versions"]
    assert row["success_rate"] == 1.0 and row["mean_duration_seconds"] >= 0


@pytest.mark.parametrize("workflow_id", ["nope", "Bad_Id", "a" * 64])
def test_unknown_workflow_is_404(client: ApiClient, workflow_id: str) -> None:
    response = client.get(f"{PLAYBOOKS}/{workflow_id}/stats", scopes=READ)
    assert response.status == 404 and problem_type(response) == "not-found"
