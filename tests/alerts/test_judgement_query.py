"""What the effectiveness judgement reads: the alerts that count for an execution (its incident's
alert_fingerprint, else alertname = signal_type in the target's namespace) and their episodes in a time
window, with one indexed query for every execution judged together (chalicelib/stores/alert_store.episodes_for).
Also: an execution request may name its alert, which is kept with the incident."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.effectiveness import AlertBinding
from chalicelib.stores import alert_store
from chalicelib.stores.alert_store import Lookup
from tests.support.alerts import T0, alert, labels, resolved
from tests.support.api import ApiClient
from tests.support.effectiveness import post_alerts
from tests.support.executions import EXECUTIONS, count_executions, create_workflow, start, started


def lookup(since: datetime, until: datetime, fingerprint: str | None = None, alertname: str | None = None,
           namespace: str | None = None) -> Lookup:
    return Lookup(AlertBinding(fingerprint, alertname, namespace), since, until)


def rows(db: Any, since: datetime, until: datetime, **binding: Any) -> list[tuple[str, str, datetime, Any]]:
    with db.reading() as tx:
        [found] = alert_store.episodes_for(tx, [lookup(since, until, **binding)])
    return [(row["fingerprint"], row["status"], row["starts_at"], row["ends_at"]) for row in found]


def crash(pod: str, **extra: Any) -> dict[str, str]:
    return labels(pod, alertname="KubePodCrashLooping", namespace="payments", **extra)


def test_by_fingerprint_an_alert_that_resolved_and_fired_again_shows_both_episodes(client: ApiClient,
                                                                                   db: Any) -> None:
    fingerprint = alert(crash("api-1"))["fingerprint"]
    post_alerts(client, alert(crash("api-1")))
    post_alerts(client, resolved(crash("api-1"), ends=T0 + timedelta(minutes=3)))
    post_alerts(client, alert(crash("api-1"), starts=T0 + timedelta(minutes=8)))
    post_alerts(client, alert(crash("api-2")))  # same name and namespace, another alert: not this execution's
    window = (T0 + timedelta(minutes=1), T0 + timedelta(minutes=11))
    assert rows(db, *window, fingerprint=fingerprint) == [
        (fingerprint, "resolved", T0, T0 + timedelta(minutes=3)),
        (fingerprint, "firing", T0 + timedelta(minutes=8), None),
    ]


def test_by_name_and_namespace_every_matching_alert_case_insensitively(client: ApiClient, db: Any) -> None:
    post_alerts(client, alert(crash("api-1")), alert(crash("api-2")))
    post_alerts(client, alert(labels("api-3", alertname="KubePodCrashLooping", namespace="shop")))  # other namespace
    post_alerts(client, alert(labels("api-4", alertname="KubePodNotReady", namespace="payments")))  # other alert
    found = rows(db, T0, T0 + timedelta(minutes=10), alertname="kubepodcrashlooping", namespace="payments")
    assert sorted(f for f, *_ in found) == sorted(alert(crash(p))["fingerprint"] for p in ("api-1", "api-2"))


def test_a_cluster_scoped_target_counts_the_alerts_without_a_namespace(client: ApiClient, db: Any) -> None:
    node = {"alertname": "NodeDiskPressure", "node": "worker-3"}
    post_alerts(client, alert(node), alert(labels("api-1", alertname="NodeDiskPressure", namespace="payments")))
    found = rows(db, T0, T0 + timedelta(minutes=10), alertname="NodeDiskPressure", namespace=None)
    assert [f for f, *_ in found] == [alert(node)["fingerprint"]]


def test_only_episodes_that_overlap_the_window(client: ApiClient, db: Any) -> None:
    fingerprint = alert(crash("api-1"))["fingerprint"]
    post_alerts(client, resolved(crash("api-1"), ends=T0 + timedelta(minutes=2)))  # over before the window
    post_alerts(client, alert(crash("api-1"), starts=T0 + timedelta(minutes=5)))
    post_alerts(client, resolved(crash("api-1"), starts=T0 + timedelta(minutes=5), ends=T0 + timedelta(minutes=6)))
    post_alerts(client, alert(crash("api-1"), starts=T0 + timedelta(hours=2)))  # after the window
    found = rows(db, T0 + timedelta(minutes=3), T0 + timedelta(hours=1), fingerprint=fingerprint)
    assert found == [(fingerprint, "resolved", T0 + timedelta(minutes=5), T0 + timedelta(minutes=6))]
    # An episode still firing overlaps any window after it started.
    assert rows(db, T0 + timedelta(days=3), T0 + timedelta(days=4), fingerprint=fingerprint) == [
        (fingerprint, "firing", T0 + timedelta(hours=2), None)]


def test_executions_judged_together_each_get_their_own_episodes(client: ApiClient, db: Any) -> None:
    post_alerts(client, alert(crash("api-1")), alert(crash("api-2")))
    post_alerts(client, alert(labels("web-1", alertname="KubePodCrashLooping", namespace="shop")))
    window = (T0, T0 + timedelta(minutes=10))
    fingerprint = alert(crash("api-2"))["fingerprint"]
    with db.reading() as tx:
        found = alert_store.episodes_for(tx, [
            lookup(*window, alertname="KubePodCrashLooping", namespace="shop"), lookup(*window, fingerprint=fingerprint),
            lookup(*window, alertname="KubePodCrashLooping", namespace="nowhere"),
            lookup(*window, alertname="KubePodCrashLooping", namespace="payments")])
    assert [[row["fingerprint"] for row in rows] for rows in found] == [
        [alert(labels("web-1", alertname="KubePodCrashLooping", namespace="shop"))["fingerprint"]], [fingerprint], [],
        sorted(alert(crash(pod))["fingerprint"] for pod in ("api-1", "api-2"))]


def test_every_form_of_the_query_uses_the_indexes(client: ApiClient, db: Any) -> None:
    post_alerts(client, *[alert(crash(f"api-{index}")) for index in range(50)])
    plans = []
    with db.transaction() as tx:
        tx.execute("SET LOCAL enable_seqscan = off")  # a 50-row table would be scanned; show what the index allows
        for binding in ({"fingerprint": alert(crash("api-1"))["fingerprint"]},
                        {"alertname": "KubePodCrashLooping", "namespace": "payments"},
                        {"alertname": "NodeDiskPressure", "namespace": None}):
            plans.append(explain(tx, binding))
    for plan in plans:
        assert "alert_episodes_pkey" in plan and "Seq Scan" not in plan, plan
    assert "alerts_by_name_and_namespace" in plans[1] and "alerts_by_name_and_namespace" in plans[2], plans


def explain(tx: Any, binding: dict[str, Any]) -> str:
    """The plan of episodes_for for one execution with this binding (the store's SQL, run under EXPLAIN)."""
    captured: list[tuple[str, Any]] = []

    class Capture:
        def execute(self, sql: str, params: Any = None) -> None:
            captured.append((sql, params))

        def fetchall(self) -> list[Any]:
            return []

    alert_store.episodes_for(Capture(), [lookup(T0, T0 + timedelta(hours=1), **binding)])  # type: ignore[arg-type]
    [(sql, params)] = captured
    tx.execute("EXPLAIN " + sql, params)
    return "\n".join(row["QUERY PLAN"] for row in tx.fetchall())


def test_an_execution_may_name_its_alert_and_it_is_kept_with_the_incident(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    fingerprint = alert(crash("api-1"))["fingerprint"]
    execution = started(client, incident={"id": "INC-7", "signal_type": "DeploymentRolloutStuck",
                                          "alert_fingerprint": fingerprint})
    shown = client.get(f"{EXECUTIONS}/{execution['execution_id']}", scopes=("catalog:read",)).json
    assert shown["incident"]["alert_fingerprint"] == fingerprint
    with db.reading() as tx:
        tx.execute("SELECT incident ->> 'alert_fingerprint' AS fingerprint FROM executions")
        assert tx.one()["fingerprint"] == fingerprint


def test_an_alert_fingerprint_that_is_not_one_is_a_400_and_nothing_is_stored(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    before = count_executions(db)
    for bad in ("690C51912B461CEC", "690c51912b461ce", "KubePodCrashLooping", 42):
        response = start(client, incident={"id": "INC-7", "signal_type": "DeploymentRolloutStuck",
                                           "alert_fingerprint": bad})
        assert response.status == 400, response
        assert [e["path"] for e in response.json["errors"]] == ["$.incident.alert_fingerprint"]
    assert count_executions(db) == before
