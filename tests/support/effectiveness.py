"""Effectiveness in tests without waiting for a window: a runner reports times in the past (as a runner that was
cut off from the catalog for a while does), so the window after a success has already ended, and the alerts are
posted to the catalog's Alertmanager webhook with times around it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.alerts import PATH, WRITE, alert, labels, notification, resolved
from tests.support.api import ApiClient
from tests.support.executions import EXECUTIONS, READ, move, start

WINDOW = timedelta(seconds=600)  # EFFECTIVENESS_WINDOW_SECONDS' default
SIGNAL = "DeploymentRolloutStuck"  # the signal_type of tests/support/executions.py incident()


def at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def succeed(client: ApiClient, execution_id: str, finished: datetime, ran: timedelta = timedelta(minutes=1)) -> None:
    """pending -> running -> succeeded, the runner reporting that it ran for ``ran`` until ``finished``."""
    for status, times in (("running", {"started_at": at(finished - ran)}),
                          ("succeeded", {"started_at": at(finished - ran), "finished_at": at(finished)})):
        response = move(client, execution_id, status, **times)
        assert response.status == 200, response


def post_alerts(client: ApiClient, *alerts: dict[str, Any]) -> None:
    response = client.post(PATH, notification(*alerts), scopes=WRITE)
    assert response.status == 200, response


def firing(client: ApiClient, pod: str = "checkout-1", namespace: str = "shop", alertname: str = SIGNAL,
           since: datetime | None = None) -> str:
    """An alert firing since ``since`` (an hour ago); its fingerprint."""
    sent = alert(labels(pod, alertname=alertname, namespace=namespace), starts=since or now() - timedelta(hours=1))
    post_alerts(client, sent)
    return str(sent["fingerprint"])


def resolve(client: ApiClient, since: datetime, ends: datetime, pod: str = "checkout-1", namespace: str = "shop",
            alertname: str = SIGNAL) -> None:
    post_alerts(client, resolved(labels(pod, alertname=alertname, namespace=namespace), starts=since, ends=ends))


def now() -> datetime:
    return datetime.now(UTC)


def effectiveness(client: ApiClient, execution_id: str) -> dict[str, Any]:
    """The execution's effectiveness as GET shows it (judging it if its window has ended)."""
    response = client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ)
    assert response.status == 200, response
    return dict(response.json["effectiveness"])


def ineffective_run(client: ApiClient, on: dict[str, str], workflow_id: str = "stuck-rollout-restart",
                    finished_ago: timedelta = timedelta(minutes=11), read: bool = True) -> str:
    """An execution on ``on`` that succeeded ``finished_ago`` (its window over) while the incident's alert kept
    firing; its id. ``read``: read once, so that it is judged ineffective now (else whoever reads it first judges
    it)."""
    firing(client, pod=f"{on['name']}-pod", namespace=on.get("namespace", "shop"))
    response = start(client, workflow_id, target=on)
    assert response.status == 201, response
    execution_id = str(response.json["execution_id"])
    succeed(client, execution_id, now() - finished_ago)
    if read:
        assert effectiveness(client, execution_id)["verdict"] == "ineffective"
    return execution_id


def counters_agree(db: Any) -> list[dict[str, Any]]:
    """The track records (migration 017's counters) are what the executions themselves count; returns them."""
    outcomes = ("executions", "succeeded", "failed", "effective", "ineffective", "unknown")
    with db.reading() as cur:
        cur.execute(f"""SELECT workflow_id, signal_type, {', '.join(outcomes)} FROM track_records
                        WHERE ({', '.join(outcomes)}) <> (0, 0, 0, 0, 0, 0) ORDER BY 1, 2""")
        counters = [dict(row) for row in cur.fetchall()]
        cur.execute("""SELECT workflow_id, lower(incident ->> 'signal_type') AS signal_type, count(*) AS executions,
                              count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                              count(*) FILTER (WHERE status = 'failed') AS failed,
                              count(*) FILTER (WHERE effectiveness = 'effective') AS effective,
                              count(*) FILTER (WHERE effectiveness = 'ineffective') AS ineffective,
                              count(*) FILTER (WHERE effectiveness = 'unknown') AS unknown
                         FROM executions GROUP BY 1, 2 ORDER BY 1, 2""")
        counted = [dict(row) for row in cur.fetchall()]
    assert counters == counted
    return counters


def end_window(db: Any, execution_id: str) -> None:
    """Time passing: the execution's effectiveness window ended a moment ago (the judgement reads the alerts' own
    times against the stored window, so only the window's end moves)."""
    with db.transaction() as cur:
        cur.execute("""UPDATE executions SET effectiveness_window_ends_at = now() - interval '1 second'
                        WHERE execution_id = %s""", (execution_id,))
