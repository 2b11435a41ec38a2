"""Effectiveness on the real database through the API (README, "Effectiveness"): a succeeded execution is pending
until its window ends, then judged once (on read, or by the maintenance round) from the alerts the webhook recorded,
and the verdict is final; which alerts count; the stats per version and per signal, the search track_record (REST
and MCP) and the counters behind it agree with the verdicts; ranking does not move; judging concurrently gives one
verdict. Runners report times in the past, so windows have ended without waiting (tests/support/effectiveness.py);
the same story with a real Alertmanager and the local server: test_effectiveness_acceptance.py."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.config import load_settings
from chalicelib.container import services
from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.timestamps import rfc3339
from chalicelib.services.effectiveness import EffectivenessService
from tests.support.alerts import alert, labels
from tests.support.api import ApiClient, services_started_with
from tests.support.effectiveness import (
    SIGNAL,
    WINDOW,
    counters_agree,
    effectiveness,
    end_window,
    firing,
    now,
    post_alerts,
    resolve,
    succeed,
)
from tests.support.executions import (
    EXECUTIONS,
    PLAYBOOKS,
    READ,
    create_workflow,
    incident,
    lapse,
    move,
    overdue,
    started,
)
from tests.support.mcp import legacy, modern, tool_result

WORKFLOW = "stuck-rollout-restart"
ELEVEN_MINUTES_AGO = timedelta(minutes=11)  # a finish whose 600 s window is over


def on(namespace: str, name: str = "checkout") -> dict[str, str]:
    return {"kind": "Deployment", "namespace": namespace, "name": name}


def succeeded_at(client: ApiClient, target: dict[str, str], ago: timedelta = ELEVEN_MINUTES_AGO,
                 workflow_id: str = WORKFLOW, **body: Any) -> str:
    """An execution on ``target`` that succeeded ``ago``; its id."""
    execution_id = str(started(client, workflow_id=workflow_id, target=target, **body)["execution_id"])
    succeed(client, execution_id, now() - ago)
    return execution_id


def verdict(client: ApiClient, execution_id: str) -> str | None:
    return effectiveness(client, execution_id)["verdict"]


def test_a_success_waits_for_its_window_then_is_judged_once_and_for_good(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    since = now() - timedelta(hours=1)
    firing(client, pod="checkout-1", since=since)
    execution_id = str(started(client, target=on("shop"))["execution_id"])
    finished = now() - timedelta(minutes=5)
    succeed(client, execution_id, finished)
    assert effectiveness(client, execution_id) == {"verdict": None, "judged_at": None, "evidence": None,
                                                   "window_ends_at": rfc3339(finished + WINDOW)}
    assert EffectivenessService(db).judge_due() == 0  # the round leaves it too

    resolve(client, since, ends=finished + timedelta(minutes=2), pod="checkout-1")
    end_window(db, execution_id)
    judged = effectiveness(client, execution_id)
    assert judged["verdict"] == "effective" and judged["judged_at"] is not None
    evidence = judged["evidence"]
    assert evidence["alerts"] == {"alertname": SIGNAL, "namespace": "shop"}
    assert [(e["status"], e["fired_again"], e["firing_at_window_end"]) for e in evidence["episodes"]] == [
        ("resolved", False, False)]
    assert evidence["summary"].startswith(f"Effective: 1 alert(s) ({SIGNAL}) resolved")

    # Final: the alert firing again now (after the window), another round, other reads change nothing.
    post_alerts(client, alert(labels("checkout-1", alertname=SIGNAL, namespace="shop"), starts=now()))
    assert EffectivenessService(db).judge_due() == 0
    assert effectiveness(client, execution_id) == judged
    listed = client.get(f"{EXECUTIONS}?workflow_id={WORKFLOW}", scopes=READ).json["items"]
    assert [item["effectiveness"] for item in listed] == [judged]


def test_each_verdict_from_the_alerts_of_the_incidents_signal_in_the_targets_namespace(client: ApiClient,
                                                                                       db: Any) -> None:
    """One namespace per story (alerts count by alertname = signal_type and namespace = the target's)."""
    create_workflow(client)
    hour_ago, finished = now() - timedelta(hours=1), now() - ELEVEN_MINUTES_AGO
    for namespace in ("fixed", "firing", "again"):
        firing(client, pod="p-1", namespace=namespace, since=hour_ago)
    resolve(client, hour_ago, finished + timedelta(minutes=3), pod="p-1", namespace="fixed")
    resolve(client, hour_ago, finished + timedelta(minutes=1), pod="p-1", namespace="again")
    post_alerts(client, alert(labels("p-1", alertname=SIGNAL, namespace="again"), starts=finished + timedelta(minutes=4)))
    # Not this incident's: another signal in the namespace, the same signal elsewhere, one that ended before the run.
    post_alerts(client, alert(labels("p-2", alertname="KubePodCrashLooping", namespace="quiet"), starts=hour_ago),
                alert(labels("p-3", alertname=SIGNAL, namespace="elsewhere"), starts=hour_ago))
    resolve(client, hour_ago, hour_ago + timedelta(minutes=5), pod="p-4", namespace="quiet")

    ids = {namespace: str(started(client, target=on(namespace))["execution_id"])
           for namespace in ("fixed", "firing", "again", "quiet")}
    for execution_id in ids.values():
        succeed(client, execution_id, finished)
    verdicts = {namespace: effectiveness(client, execution_id) for namespace, execution_id in ids.items()}
    assert {namespace: found["verdict"] for namespace, found in verdicts.items()} == {
        "fixed": "effective", "firing": "ineffective", "again": "ineffective", "quiet": "unknown"}
    assert [e["firing_at_window_end"] for e in verdicts["firing"]["evidence"]["episodes"]] == [True]
    assert [(e["fired_again"], e["status"]) for e in verdicts["again"]["evidence"]["episodes"]] == [
        (True, "firing"), (False, "resolved")]  # the deciding episode first
    assert verdicts["quiet"]["evidence"]["episodes"] == []
    assert "nothing to judge by" in verdicts["quiet"]["evidence"]["summary"]


def test_an_incident_that_names_its_alert_is_judged_by_that_alert_alone(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    hour_ago, finished = now() - timedelta(hours=1), now() - ELEVEN_MINUTES_AGO
    named = firing(client, pod="checkout-1", since=hour_ago)
    firing(client, pod="checkout-2", since=hour_ago)  # the same signal in the namespace, still firing
    resolve(client, hour_ago, finished + timedelta(minutes=1), pod="checkout-1")
    bound = succeeded_at(client, on("shop", "a"), incident=incident(alert_fingerprint=named))
    unbound = succeeded_at(client, on("shop", "b"))
    assert effectiveness(client, bound)["evidence"]["alerts"] == {"alert_fingerprint": named}
    assert (verdict(client, bound), verdict(client, unbound)) == ("effective", "ineffective")
    never_heard = succeeded_at(client, on("shop", "c"), incident=incident(alert_fingerprint="00000000000000aa"))
    assert verdict(client, never_heard) == "unknown"


def test_a_failed_execution_is_never_judged(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    firing(client)
    execution_id = str(started(client, target=on("shop"))["execution_id"])
    at = (now() - ELEVEN_MINUTES_AGO).isoformat()
    assert move(client, execution_id, "failed", started_at=at, finished_at=at).status == 200
    assert EffectivenessService(db).judge_due() == 0
    assert client.get(f"{EXECUTIONS}/{execution_id}", scopes=READ).json["effectiveness"] is None
    with db.reading() as cur:
        cur.execute("SELECT effectiveness, effectiveness_window_ends_at FROM executions")
        assert dict(cur.one()) == {"effectiveness": None, "effectiveness_window_ends_at": None}


def test_the_maintenance_round_judges_what_is_due_and_nothing_else(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    firing(client, namespace="shop")
    due = [succeeded_at(client, on("shop", f"due-{index}")) for index in range(3)]
    pending = succeeded_at(client, on("shop", "pending"), ago=timedelta(minutes=1))
    assert services().maintenance.run()["judged"] == 3
    with db.reading() as cur:
        cur.execute("SELECT execution_id::text AS id, effectiveness FROM executions")
        assert {row["id"]: row["effectiveness"] for row in cur.fetchall()} == {
            **dict.fromkeys(due, "ineffective"), pending: None}
    assert services().maintenance.run()["judged"] == 0


def test_a_list_judges_the_due_executions_of_its_page(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    ids = [succeeded_at(client, on("shop", f"listed-{index}")) for index in range(3)]
    page = client.get(f"{EXECUTIONS}?limit=2", scopes=READ).json
    assert [item["effectiveness"]["verdict"] for item in page["items"]] == ["unknown", "unknown"]
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS judged FROM executions WHERE effectiveness IS NOT NULL")
        assert cur.one()["judged"] == 2  # the page's, not the next one's
    assert verdict(client, ids[0]) == "unknown"


def test_the_window_is_the_setting_fixed_when_the_success_is_recorded(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    finished = now() - timedelta(seconds=30)
    with services_started_with(EFFECTIVENESS_WINDOW_SECONDS="20"):
        short = succeeded_at(client, on("shop", "short"), ago=timedelta(seconds=30))
    longer = succeeded_at(client, on("shop", "longer"), ago=timedelta(seconds=30))
    assert verdict(client, short) == "unknown"  # 30 s ago with a 20 s window: judged
    assert effectiveness(client, longer)["verdict"] is None
    assert effectiveness(client, longer)["window_ends_at"] > rfc3339(finished + timedelta(seconds=590))


@pytest.mark.parametrize(("value", "problem"), [("0", "be between 1 and 21600"), ("21601", "be between 1 and 21600"),
                                                ("ten", "be an integer")])
def test_the_window_setting_is_validated(value: str, problem: str) -> None:
    assert load_settings({}).effectiveness_window_seconds == 600
    assert load_settings({"EFFECTIVENESS_WINDOW_SECONDS": "30"}).effectiveness_window_seconds == 30
    with pytest.raises(ConfigError, match=f"EFFECTIVENESS_WINDOW_SECONDS must {problem}"):
        load_settings({"EFFECTIVENESS_WINDOW_SECONDS": value})


# --- the track record -----------------------------------------------------------------------------------------------
QUERY = {"query": "deployment rollout stuck, restart it", "labels": {"signal_type": SIGNAL}}


def search(client: ApiClient, body: dict[str, Any] = QUERY) -> list[dict[str, Any]]:
    response = client.post(f"{PLAYBOOKS}/search", body, scopes=READ)
    assert response.status == 200, response
    return list(response.json["results"])


def test_stats_and_the_search_track_record_agree_with_the_verdicts_and_ranking_does_not_move(
        client: ApiClient, db: Any) -> None:
    create_workflow(client, version="1.0.0")
    create_workflow(client, version="1.1.0")
    other_labels = {"signal_type": "*", "severity": "*", "environment": "*", "component": "deployment"}
    create_workflow(client, "restart-anything", labels=other_labels)
    before = [(r["workflow_id"], r["score"]) for r in search(client)]
    assert all(r["track_record"] == {"signal_type": SIGNAL, "executions": 0, "succeeded": 0, "failed": 0,
                                     "success_rate": None, "judged": 0, "effective": 0, "ineffective": 0,
                                     "unknown": 0, "effectiveness_rate": None} for r in search(client))

    hour_ago, finished = now() - timedelta(hours=1), now() - ELEVEN_MINUTES_AGO
    firing(client, namespace="broken", since=hour_ago)
    firing(client, namespace="fixed", since=hour_ago)
    resolve(client, hour_ago, finished, namespace="fixed")
    runs = [("1.0.0", "broken"), ("1.0.0", "broken"), ("1.0.0", "fixed"), ("1.1.0", "broken"), ("1.1.0", "quiet")]
    for index, (version, namespace) in enumerate(runs):
        succeeded_at(client, on(namespace, f"svc-{index}"), version=version)
    failed = str(started(client, target=on("broken", "svc-failed"), version="1.1.0")["execution_id"])
    assert move(client, failed, "failed").status == 200
    started(client, target=on("broken", "svc-pending"), version="1.1.0")  # still pending: counted, not finished
    # Another signal, through the workflow that takes any.
    succeeded_at(client, on("broken", "other"), workflow_id="restart-anything",
                 incident=incident(signal_type="KubePodCrashLooping"))

    stats = client.get(f"{PLAYBOOKS}/{WORKFLOW}/stats", scopes=READ).json  # judges what is due first
    versions = {row["version"]: row for row in stats["versions"]}
    assert {k: versions["1.0.0"][k] for k in ("executions", "succeeded", "effective", "ineffective", "unknown",
                                              "judged", "effectiveness_rate", "success_rate")} == {
        "executions": 3, "succeeded": 3, "effective": 1, "ineffective": 2, "unknown": 0, "judged": 3,
        "effectiveness_rate": pytest.approx(1 / 3), "success_rate": 1.0}
    assert {k: versions["1.1.0"][k] for k in ("executions", "succeeded", "failed", "effective", "ineffective",
                                              "unknown", "effectiveness_rate", "success_rate")} == {
        "executions": 4, "succeeded": 2, "failed": 1, "effective": 0, "ineffective": 1, "unknown": 1,
        "effectiveness_rate": 0.0, "success_rate": pytest.approx(2 / 3)}
    assert versions["1.0.0"]["median_duration_seconds"] == pytest.approx(60.0)  # as the runner reported them
    [signal] = stats["signal_types"]
    assert {k: signal[k] for k in ("signal_type", "executions", "succeeded", "failed", "judged", "effective",
                                   "ineffective", "unknown")} == {
        "signal_type": SIGNAL, "executions": 7, "succeeded": 5, "failed": 1, "judged": 5, "effective": 1,
        "ineffective": 3, "unknown": 1}
    assert signal["effectiveness_rate"] == 0.2 and signal["success_rate"] == pytest.approx(5 / 6)
    assert client.get(f"{PLAYBOOKS}/restart-anything/stats", scopes=READ).json["signal_types"][0]["signal_type"] == (
        "KubePodCrashLooping")

    results = search(client)
    assert [(r["workflow_id"], r["score"]) for r in results] == before  # history never moves the ranking
    records = {r["workflow_id"]: r["track_record"] for r in results}
    assert records[WORKFLOW] == {"signal_type": SIGNAL, **{k: signal[k] for k in (
        "executions", "succeeded", "failed", "success_rate", "judged", "effective", "ineffective", "unknown",
        "effectiveness_rate")}}
    assert records["restart-anything"]["executions"] == 0  # it never ran for this signal
    # Without a signal_type (a "*" does not name one): the workflow over every signal; GET says the same as POST.
    overall = {r["workflow_id"]: r["track_record"] for r in search(client, {"query": QUERY["query"]})}
    assert overall["restart-anything"] == {**overall["restart-anything"], "signal_type": None, "executions": 1,
                                           "judged": 1, "unknown": 1}
    assert search(client, {"query": QUERY["query"], "labels": {"signal_type": "*"}})[0]["track_record"][
        "signal_type"] is None
    got = client.get(f"{PLAYBOOKS}/search?query=deployment%20rollout%20stuck%2C%20restart%20it&signal_type="
                     f"{SIGNAL.lower()}", scopes=READ).json["results"]
    assert {r["workflow_id"]: {**r["track_record"], "signal_type": SIGNAL} for r in got} == records
    counters_agree(db)


@pytest.mark.parametrize("send", [legacy, modern])
def test_the_mcp_search_tool_tells_the_model_what_the_record_means(client: ApiClient, db: Any, send: Any) -> None:
    create_workflow(client)
    firing(client, namespace="broken")
    broken = [succeeded_at(client, on("broken", f"svc-{index}")) for index in range(3)]
    firing(client, namespace="fixed", since=now() - timedelta(hours=1))
    resolve(client, now() - timedelta(hours=1), now() - ELEVEN_MINUTES_AGO, namespace="fixed")
    succeeded_at(client, on("fixed"))
    client.get(f"{PLAYBOOKS}/{WORKFLOW}/stats", scopes=READ)  # the verdicts given

    result = tool_result(send(client, "tools/call", {"name": "search_workflows", "arguments": QUERY}))
    rest = search(client)
    assert result["structuredContent"]["results"] == rest
    text = result["content"][0]["text"]
    assert f"Track record for signal {SIGNAL}" in text and "the ranking does not use it" in text
    assert f"- {WORKFLOW}: ran 4 time(s) for this signal, succeeded 4 of 4 finished; ineffective 3 of 4 times for " \
           "this signal" in text
    read = tool_result(send(client, "tools/call", {"name": "get_execution", "arguments": {"execution_id": broken[0]}}))
    assert f"Effectiveness: Ineffective: 1 alert(s) ({SIGNAL}) still firing when the window ended" in read["content"][
        0]["text"]
    tools = tool_result(send(client, "tools/list"))["tools"]
    [described] = [tool["description"] for tool in tools if tool["name"] == "search_workflows"]
    assert "track_record" in described and "does not use it" in described


def test_judging_at_once_from_many_readers_and_rounds_gives_each_execution_one_verdict(client: ApiClient,
                                                                                     db: Any) -> None:
    create_workflow(client)
    firing(client, namespace="shop")
    ids = [succeeded_at(client, on("shop", f"svc-{index}")) for index in range(30)]
    errors: list[BaseException] = []

    def read(execution_id: str) -> None:
        try:
            services().executions.get(execution_id)
        except BaseException as error:
            errors.append(error)

    def round_() -> None:
        try:
            EffectivenessService(db).judge_due()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=read, args=(execution_id,)) for execution_id in ids + ids]
    threads += [threading.Thread(target=round_) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with db.reading() as cur:
        cur.execute("SELECT effectiveness, count(*) AS n FROM executions GROUP BY 1")
        assert [dict(row) for row in cur.fetchall()] == [{"effectiveness": "ineffective", "n": 30}]
    [record] = counters_agree(db)
    assert (record["succeeded"], record["ineffective"]) == (30, 30)  # each verdict counted once


def test_the_counters_follow_every_way_an_execution_ends(client: ApiClient, db: Any) -> None:
    """The track records (search's side) equal what the executions count (the stats' side) after each kind of
    change: created, claimed, running, rejected, expired, lost by its runner, failed, succeeded, judged."""
    create_workflow(client)
    create_workflow(client, "gated")
    assert client.patch(f"{PLAYBOOKS}/gated", {"approval_required": True, "reason": "change board"},
                        scopes=("catalog:write",)).status == 200
    rejected = str(started(client, workflow_id="gated", target=on("shop", "r"))["execution_id"])
    assert client.post(f"{EXECUTIONS}/{rejected}/reject", {"reason": "no"}, scopes=("executions:approve",)).status == 200
    expired = str(started(client, workflow_id="gated", target=on("shop", "x"))["execution_id"])
    overdue(db, expired)
    assert services().executions.expire_overdue() == 1
    lost = str(started(client, target=on("shop", "lost"))["execution_id"])
    for lapses in range(3):
        claimed = client.post(f"{EXECUTIONS}/claim", {"runner_id": f"runner-{lapses}"}, scopes=("executions:run",))
        assert [item["execution_id"] for item in claimed.json["items"]] == [lost]
        if lapses == 0:
            assert move(client, lost, "running").status == 200  # running, then its runner is lost
        lapse(db, lost)
        services().executions.lapse_leases()
    firing(client)
    judged = succeeded_at(client, on("shop", "judged"))
    failed = str(started(client, target=on("shop", "failed"))["execution_id"])
    assert move(client, failed, "failed").status == 200
    assert verdict(client, judged) == "ineffective"
    counters = {(row["workflow_id"], row["signal_type"]): row for row in counters_agree(db)}
    signal = SIGNAL.lower()
    assert {k: counters[("gated", signal)][k] for k in ("executions", "succeeded", "failed")} == {
        "executions": 2, "succeeded": 0, "failed": 0}
    assert {k: counters[(WORKFLOW, signal)][k] for k in ("executions", "succeeded", "failed", "ineffective")} == {
        "executions": 3, "succeeded": 1, "failed": 2, "ineffective": 1}
