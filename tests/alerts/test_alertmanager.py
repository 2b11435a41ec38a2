"""A real Alertmanager (Debian's prometheus-alertmanager 0.25) sends its webhook notifications to the catalog
served by the real local server: alerts posted to Alertmanager's v2 API are grouped and sent by it and
recorded by the catalog, resolved under the same fingerprint, fired again as a new episode; the same
notification twice changes nothing; a key without alerts:write is refused with nothing stored. Then the
bad input and concurrent senders over real HTTP."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from chalicelib.container import services
from chalicelib.domain.limits import API_SCOPES
from tests.support.alertmanager import LocalAlertmanager, Relay, wait_until
from tests.support.alerts import PATH, T0, alert, alert_tables, episodes, labels, notification, resolved
from tests.support.server import CatalogProcess


def statuses(db: Any, fingerprint: str) -> list[str]:
    return [status for status, *_ in episodes(db, fingerprint)]


def test_alerts_are_grouped_sent_and_recorded_then_resolved_and_fired_again(
        alertmanager_for: Callable[..., LocalAlertmanager], catalog_server: CatalogProcess, db: Any) -> None:
    manager = alertmanager_for("alerts:write", receiver="grouping")
    pods = [labels(f"api-{index}", alertname="KubePodCrashLooping", namespace="payments") for index in range(3)]
    other = labels("web-1", alertname="KubePodCrashLooping", namespace="shop")
    manager.post(*({"labels": pod, "annotations": {"summary": "crash looping"}} for pod in pods), {"labels": other})
    held = {a["fingerprint"]: a for a in manager.alerts()}
    assert len(held) == 4
    fingerprints = [next(f for f, a in held.items() if a["labels"] == pod) for pod in pods]

    wait_until(lambda: len(alert_tables(db)["alert_episodes"]) == 4, "the four firing alerts are recorded")
    for fingerprint in held:
        [(status, starts_at, ends_at)] = episodes(db, fingerprint)
        assert (status, ends_at) == ("firing", None)
        # The catalog keeps Alertmanager's startsAt, the episode's identity (its v2 API shows milliseconds).
        assert starts_at.replace(microsecond=starts_at.microsecond // 1000 * 1000) == datetime.fromisoformat(
            held[fingerprint]["startsAt"])
    recorded = {row["fingerprint"]: row for row in alert_tables(db)["alerts"]}
    assert recorded[fingerprints[0]]["labels"] == held[fingerprints[0]]["labels"]
    assert (recorded[fingerprints[0]]["alertname"], recorded[fingerprints[0]]["namespace"]) == (
        "KubePodCrashLooping", "payments")
    # Grouped by Alertmanager (alertname, namespace): one notification of three alerts, one of one.
    lines = [json.loads(line) for line in catalog_server.lines_with('"alerts recorded"', '"grouping"', count=2)]
    assert sorted(line["alerts"] for line in lines) == [1, 3]

    manager.resolve(pods[0])
    wait_until(lambda: statuses(db, fingerprints[0]) == ["resolved"], "the resolution is recorded")
    [(_, _, ends_at)] = episodes(db, fingerprints[0])
    assert ends_at is not None
    assert all(statuses(db, f) == ["firing"] for f in held if f != fingerprints[0])

    time.sleep(0.01)  # the next firing starts after the resolution
    manager.post({"labels": pods[0]})
    wait_until(lambda: statuses(db, fingerprints[0]) == ["resolved", "firing"], "firing again is a new episode")
    assert len(alert_tables(db)["alerts"]) == 4  # still one alert per fingerprint


def test_the_same_notification_twice_changes_nothing(alertmanager_for: Callable[..., LocalAlertmanager],
                                                     catalog_server: CatalogProcess, db: Any) -> None:
    relay = Relay(catalog_server.url + PATH)
    try:
        manager = alertmanager_for("alerts:write", url=relay.url)
        crash = labels("api-1")
        manager.post({"labels": crash})
        # The relay notes a delivery once the catalog has answered, a moment after the episode is committed.
        wait_until(lambda: relay.deliveries and alert_tables(db)["alert_episodes"], "the firing alert is recorded")
        [firing] = relay.deliveries
        assert firing.status == 200 and firing.authorization.startswith("Bearer rwc_")
        again = replay(catalog_server, firing.body, firing.authorization)
        assert again == {"received": 1, "recorded": 0, "unchanged": 1}

        manager.resolve(crash)
        wait_until(lambda: len(relay.deliveries) == 2, "the resolved notification is sent")
        resolved_state = alert_tables(db)
        assert [row["status"] for row in resolved_state["alert_episodes"]] == ["resolved"]
        # Sent again, and the firing one late: nothing changes, not even a timestamp.
        assert replay(catalog_server, relay.deliveries[1].body, firing.authorization)["unchanged"] == 1
        assert replay(catalog_server, firing.body, firing.authorization)["unchanged"] == 1
        assert alert_tables(db) == resolved_state
    finally:
        relay.close()


def replay(server: CatalogProcess, body: bytes, authorization: str) -> dict[str, int]:
    response = requests.post(server.url + PATH, data=body, timeout=10,
                             headers={"Content-Type": "application/json", "Authorization": authorization})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_alertmanager_with_a_key_without_alerts_write_is_refused_and_nothing_is_stored(
        alertmanager_for: Callable[..., LocalAlertmanager], catalog_server: CatalogProcess, db: Any) -> None:
    relay = Relay(catalog_server.url + PATH)
    try:
        others = [scope for scope in API_SCOPES if scope not in ("alerts:write", "admin")]
        manager = alertmanager_for(*others, url=relay.url)
        manager.post({"labels": labels("api-1")})
        wait_until(lambda: relay.deliveries, "Alertmanager sends the notification")
        assert relay.deliveries[0].status == 403
        assert alert_tables(db) == {"alerts": [], "alert_episodes": []}
    finally:
        relay.close()


# --- over real HTTP, without Alertmanager ---------------------------------------------------------
def post_raw(server: CatalogProcess, body: bytes, key: str) -> requests.Response:
    return requests.post(server.url + PATH, data=body, timeout=60,
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})


def slim(pod: str) -> dict[str, Any]:
    found = alert(labels(pod))
    found.pop("annotations")
    return found


@pytest.mark.parametrize(("case", "status"), [("version 3", 400), ("missing fingerprint", 400),
                                              ("10 MB body", 413), ("10,000 alerts", 400)])
def test_bad_input_over_http_is_a_clear_4xx_and_nothing_is_stored(catalog_server: CatalogProcess, db: Any,
                                                                  case: str, status: int) -> None:
    _, key = services().api_keys.create("alertmanager", ["alerts:write"])
    assert post_raw(catalog_server, json.dumps(notification(alert(labels("api-1")))).encode(), key).status_code == 200
    before = alert_tables(db)
    body = notification(alert(labels("api-2")))
    if case == "version 3":
        body["version"] = "3"
    elif case == "missing fingerprint":
        del body["alerts"][0]["fingerprint"]
    elif case == "10 MB body":
        body["alerts"][0]["annotations"]["description"] = "x" * 10_000_000
    else:
        body = notification(*[slim(f"p{index}") for index in range(10_000)])
    response = post_raw(catalog_server, json.dumps(body).encode(), key)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["detail"]
    assert alert_tables(db) == before


def test_concurrent_senders_out_of_order_and_twice_end_in_one_right_record(catalog_server: CatalogProcess,
                                                                           db: Any) -> None:
    """Eight senders post firing and resolved notifications about the same 200 alerts, each twice, shuffled
    (an Alertmanager HA pair, retries), notifications sharing some of their alerts: no error, no deadlock
    (alerts are locked in fingerprint order), and every alert ends resolved, once."""
    _, key = services().api_keys.create("alertmanager", ["alerts:write"])
    pods = [labels(f"pod-{index}", namespace=f"ns-{index % 4}") for index in range(200)]
    ends = T0 + timedelta(minutes=7)
    bodies = [notification(*[alert(pod) for pod in pods[start:start + 20]]) for start in range(0, 200, 20)]
    # Resolutions grouped otherwise (25 from an offset of 10), so concurrent notifications share some alerts.
    bodies += [notification(*[resolved(pod, ends=ends) for pod in (pods[10:] + pods[:10])[start:start + 25]])
               for start in range(0, 200, 25)]
    sends = [json.dumps(body).encode() for body in bodies * 2]
    random.Random(25).shuffle(sends)
    answers: list[int] = []
    lock = threading.Lock()

    def sender(share: list[bytes]) -> None:
        with requests.Session() as session:
            for body in share:
                response = session.post(catalog_server.url + PATH, data=body, timeout=60, headers={
                    "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
                with lock:
                    answers.append(response.status_code)

    threads = [threading.Thread(target=sender, args=(sends[index::8],)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert answers == [200] * len(sends)
    tables = alert_tables(db)
    assert len(tables["alerts"]) == 200
    assert {(row["status"], row["starts_at"], row["ends_at"]) for row in tables["alert_episodes"]} == {
        ("resolved", T0, ends)}
    assert len(tables["alert_episodes"]) == 200

