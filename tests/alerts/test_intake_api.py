"""POST /api/v1/alerts/alertmanager through the API Gateway emulation: what is recorded, idempotency, late
notifications, hostile and malformed input (nothing stored), and the alerts:write scope."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.limits import API_SCOPES, MAX_ALERTS_PER_NOTIFICATION
from tests.support.alerts import (
    PATH,
    T0,
    WRITE,
    alert,
    alert_tables,
    episodes,
    labels,
    notification,
    resolved,
)
from tests.support.api import ApiClient
from tests.support.catalog import problem_type


def post(client: ApiClient, body: Any, scopes: tuple[str, ...] = WRITE) -> Any:
    return client.post(PATH, body, scopes=scopes)


def summary(response: Any) -> tuple[int, int, int]:
    assert response.status == 200, response
    return response.json["received"], response.json["recorded"], response.json["unchanged"]


def test_a_firing_alert_is_recorded_by_fingerprint_with_its_labels(client: ApiClient, db: Any) -> None:
    fired = alert(labels("api-1", team="payments"))
    assert summary(post(client, notification(fired))) == (1, 1, 0)
    tables = alert_tables(db)
    [row] = tables["alerts"]
    assert (row["fingerprint"], row["alertname"], row["namespace"]) == (fired["fingerprint"], "KubePodCrashLooping",
                                                                        "payments")
    assert row["labels"] == fired["labels"]
    assert episodes(db, fired["fingerprint"]) == [("firing", T0, None)]


def test_the_same_notification_again_changes_nothing(client: ApiClient, db: Any) -> None:
    body = notification(alert(labels("api-1")), alert(labels("api-2")))
    assert summary(post(client, body)) == (2, 2, 0)
    before = alert_tables(db)
    assert summary(post(client, body)) == (2, 0, 2)
    assert alert_tables(db) == before  # not even a timestamp moved


def test_resolved_then_firing_again_is_a_second_episode_of_the_same_alert(client: ApiClient, db: Any) -> None:
    crash = labels("api-1")
    fingerprint = alert(crash)["fingerprint"]
    post(client, notification(alert(crash)))
    assert summary(post(client, notification(resolved(crash, ends=T0 + timedelta(minutes=3))))) == (1, 1, 0)
    assert episodes(db, fingerprint) == [("resolved", T0, T0 + timedelta(minutes=3))]
    again = T0 + timedelta(minutes=10)
    assert summary(post(client, notification(alert(crash, starts=again)))) == (1, 1, 0)
    assert episodes(db, fingerprint) == [("resolved", T0, T0 + timedelta(minutes=3)), ("firing", again, None)]
    assert len(alert_tables(db)["alerts"]) == 1


def test_a_late_firing_notification_never_overwrites_the_resolution(client: ApiClient, db: Any) -> None:
    crash = labels("api-1")
    firing = notification(alert(crash))
    post(client, firing)
    post(client, notification(resolved(crash, ends=T0 + timedelta(minutes=3))))
    before = alert_tables(db)
    assert summary(post(client, firing)) == (1, 0, 1)  # e.g. a retry that arrives after the resolution
    assert alert_tables(db) == before


def test_the_resolution_arriving_first_is_recorded_and_the_late_firing_changes_nothing(client: ApiClient,
                                                                                       db: Any) -> None:
    crash = labels("api-1")
    assert summary(post(client, notification(resolved(crash)))) == (1, 1, 0)
    assert summary(post(client, notification(alert(crash)))) == (1, 0, 1)
    assert episodes(db, alert(crash)["fingerprint"]) == [("resolved", T0, T0 + timedelta(minutes=5))]


def test_an_alert_that_fired_again_between_notifications_supersedes_its_open_episode(client: ApiClient,
                                                                                    db: Any) -> None:
    """Alertmanager sends only the current state: an alert that resolved and fired again within one
    group_interval arrives as a new episode. The open one ended at the latest when the new one started,
    until its real resolution arrives (late), which then replaces that bound."""
    crash = labels("api-1")
    fingerprint = alert(crash)["fingerprint"]
    again = T0 + timedelta(minutes=10)
    post(client, notification(alert(crash)))
    assert summary(post(client, notification(alert(crash, starts=again)))) == (1, 1, 0)
    assert episodes(db, fingerprint) == [("superseded", T0, again), ("firing", again, None)]
    # A late firing report of the old episode changes nothing; its late resolution is a fact and is kept.
    assert summary(post(client, notification(alert(crash)))) == (1, 0, 1)
    assert summary(post(client, notification(resolved(crash, ends=T0 + timedelta(minutes=4))))) == (1, 1, 0)
    assert episodes(db, fingerprint) == [("resolved", T0, T0 + timedelta(minutes=4)), ("firing", again, None)]


def test_a_late_report_of_an_older_episode_never_seen(client: ApiClient, db: Any) -> None:
    crash = labels("api-1")
    fingerprint = alert(crash)["fingerprint"]
    later = T0 + timedelta(hours=1)
    post(client, notification(alert(crash, starts=later)))
    assert summary(post(client, notification(alert(crash)))) == (1, 0, 1)  # it ended before the later one began
    assert summary(post(client, notification(resolved(crash)))) == (1, 1, 0)  # a complete fact: kept
    assert episodes(db, fingerprint) == [("resolved", T0, T0 + timedelta(minutes=5)), ("firing", later, None)]


def test_the_summary_counts_each_alert_of_a_mixed_notification(client: ApiClient, db: Any) -> None:
    post(client, notification(alert(labels("api-1")), alert(labels("api-2"))))
    body = notification(alert(labels("api-1")), resolved(labels("api-2")), alert(labels("api-3")))
    assert summary(post(client, body)) == (3, 2, 1)
    assert len(alert_tables(db)["alert_episodes"]) == 3


def test_fields_a_newer_alertmanager_may_add_are_accepted_and_not_stored(client: ApiClient, db: Any) -> None:
    fired = {**alert(labels("api-1")), "silencedBy": [], "receivers": ["catalog"]}
    assert summary(post(client, notification(fired, tenant="acme", groupHash="x"))) == (1, 1, 0)
    assert set(alert_tables(db)["alerts"][0]) == {"fingerprint", "alertname", "namespace", "labels", "first_seen_at"}


def test_an_alert_without_namespace_or_alertname_is_recorded_with_null_columns(client: ApiClient, db: Any) -> None:
    node = {"instance": "node-7:9100", "job": "node"}
    assert summary(post(client, notification(alert(node)))) == (1, 1, 0)
    [row] = alert_tables(db)["alerts"]
    assert (row["alertname"], row["namespace"]) == (None, None)


def test_a_full_notification_of_the_most_alerts_allowed_is_recorded(client: ApiClient, db: Any) -> None:
    alerts = [slim(index) for index in range(MAX_ALERTS_PER_NOTIFICATION)]
    assert summary(post(client, notification(*alerts))) == (1000, 1000, 0)
    assert len(alert_tables(db)["alert_episodes"]) == MAX_ALERTS_PER_NOTIFICATION


def slim(index: int) -> dict[str, Any]:
    """A small alert (no annotations), so that 10,000 of them stay under the route's body limit."""
    found = alert(labels(f"p{index}"))
    found.pop("annotations")
    found["generatorURL"] = ""
    return found


# --- bad input: a clear 4xx, and nothing stored --------------------------------------------------
def with_alert(**changes: Any) -> dict[str, Any]:
    return notification({**alert(labels("api-9")), **changes})


def without(key: str) -> dict[str, Any]:
    body = notification(alert(labels("api-9")))
    del body["alerts"][0][key]
    return body


BAD = {
    "version 3": (notification(alert(labels("api-9")), version="3"), "$.version", "must be \"4\""),
    "version as a number": (notification(alert(labels("api-9")), version=4), "$.version", "must be \"4\""),
    "no version": ({k: v for k, v in notification(alert(labels("api-9"))).items() if k != "version"}, "$.version",
                   "is required"),
    "missing fingerprint": (without("fingerprint"), "$.alerts[0].fingerprint", "is required"),
    "fingerprint with a newline": (with_alert(fingerprint=alert(labels("api-9"))["fingerprint"] + "\n"),
                                   "$.alerts[0].fingerprint", ""),
    "uppercase fingerprint": (with_alert(fingerprint=alert(labels("api-9"))["fingerprint"].upper()),
                              "$.alerts[0].fingerprint", ""),
    "missing startsAt": (without("startsAt"), "$.alerts[0].startsAt", "is required"),
    "startsAt not a time": (with_alert(startsAt="yesterday"), "$.alerts[0].startsAt", "RFC 3339"),
    "startsAt with a newline": (with_alert(startsAt="2026-12-01T10:00:00Z\n"), "$.alerts[0].startsAt", "RFC 3339"),
    "startsAt with unicode digits": (with_alert(startsAt="２026-12-01T10:00:00Z"), "$.alerts[0].startsAt", "RFC 3339"),
    "startsAt the zero time": (with_alert(startsAt="0001-01-01T00:00:00Z"), "$.alerts[0].startsAt", "zero time"),
    "impossible date": (with_alert(startsAt="2026-02-30T10:00:00Z"), "$.alerts[0].startsAt", "RFC 3339"),
    "resolved without endsAt": ({**with_alert(status="resolved")} | {"alerts": [
        {k: v for k, v in alert(labels("api-9"), "resolved").items() if k != "endsAt"}]},
        "$.alerts[0].endsAt", "is required"),
    "resolved at the zero time": (with_alert(status="resolved"), "$.alerts[0].endsAt", "zero time"),
    "resolved before it started": (notification(resolved(labels("api-9"), ends=T0 - timedelta(seconds=1))),
                                   "$.alerts[0].endsAt", "before startsAt"),
    "unknown status": (with_alert(status="pending"), "$.alerts[0].status", "must be one of"),
    "label value not a string": (with_alert(labels={"alertname": "X", "replicas": 3}), "$.alerts[0].labels.replicas",
                                 "must be a string"),
    "label value too long": (with_alert(labels={"alertname": "X", "message": "m" * 4097}), "$.alerts[0].labels.message",
                             "at most 4096 characters"),
    "too many labels": (with_alert(labels={f"l{index}": "v" for index in range(101)}), "$.alerts[0].labels",
                        "at most 100 entries"),
    "labels not an object": (notification(alert(labels("api-9"))) | {"alerts": [{**alert(labels("api-9")),
                             "labels": ["alertname=X"]}]}, "$.alerts[0].labels", "label name -> string"),
    "no alerts": (notification(), "$.alerts", "at least 1"),
    "alerts not a list": (notification(alert(labels("api-9"))) | {"alerts": {"0": 1}}, "$.alerts", "must be a list"),
    "the same alert twice": (notification(alert(labels("api-9")), alert(labels("api-9"))), "$.alerts[1].fingerprint",
                             "repeats the fingerprint of $.alerts[0]"),
    "truncatedAlerts negative": (notification(alert(labels("api-9")), truncatedAlerts=-1), "$.truncatedAlerts",
                                 "at least 0"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_a_400_naming_the_problem_and_nothing_is_stored(client: ApiClient, db: Any, case: str) -> None:
    body, path, words = BAD[case]
    post(client, notification(alert(labels("api-1"))))
    before = alert_tables(db)
    response = post(client, body)
    assert response.status == 400, response
    assert problem_type(response) == "validation-error"
    assert "Nothing was recorded" in response.json["detail"]
    messages = {error["path"]: error["message"] for error in response.json["errors"]}
    assert path in messages, messages
    assert words in messages[path]
    assert alert_tables(db) == before


def test_one_bad_alert_keeps_the_good_ones_of_its_notification_out_too(client: ApiClient, db: Any) -> None:
    good = [alert(labels(f"api-{index}")) for index in range(5)]
    body = notification(*good, {**alert(labels("api-9")), "startsAt": "soon"}, resolved(labels("api-7")))
    response = post(client, body)
    assert response.status == 400, response
    assert [error["path"] for error in response.json["errors"]] == ["$.alerts[5].startsAt"]
    assert alert_tables(db) == {"alerts": [], "alert_episodes": []}


def test_ten_thousand_alerts_in_one_notification_is_a_400_saying_max_alerts(client: ApiClient, db: Any) -> None:
    body = notification(*[slim(index) for index in range(10_000)])
    assert len(json.dumps(body)) < 4 * 1024 * 1024  # under the body limit: the count is what is refused
    response = post(client, body)
    assert response.status == 400, response
    [error] = response.json["errors"]
    assert error["path"] == "$.alerts" and "at most 1000 per notification" in error["message"]
    assert "max_alerts" in error["message"]
    assert alert_tables(db) == {"alerts": [], "alert_episodes": []}


def test_a_10_mb_body_is_a_413_and_nothing_is_stored(client: ApiClient, db: Any) -> None:
    fired = alert(labels("api-1"))
    fired["annotations"]["description"] = "x" * 10_000_000
    response = post(client, notification(fired))
    assert response.status == 413, response
    assert problem_type(response) == "payload-too-large"
    assert alert_tables(db) == {"alerts": [], "alert_episodes": []}


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{not json", "application/json", 400),
    (b'{"version": "4", "version": "4", "alerts": []}', "application/json", 400),
    (b"[]", "application/json", 400),
    (b"version=4", "application/x-www-form-urlencoded", 415),
])
def test_bodies_that_are_not_a_notification(client: ApiClient, db: Any, body: bytes, content_type: str,
                                            status: int) -> None:
    response = client.post(PATH, scopes=WRITE, body=body, headers={"Content-Type": content_type})
    assert response.status == status, response
    assert alert_tables(db) == {"alerts": [], "alert_episodes": []}


# --- who may post ------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", [s for s in API_SCOPES if s not in ("alerts:write", "admin")])
def test_a_key_without_alerts_write_is_refused_and_nothing_is_stored(client: ApiClient, db: Any, scope: str) -> None:
    post(client, notification(alert(labels("api-1"))))
    before = alert_tables(db)
    response = post(client, notification(alert(labels("api-2")), resolved(labels("api-1"))), scopes=(scope,))
    assert response.status == 403, response
    assert "alerts:write" in response.json["detail"]
    assert alert_tables(db) == before


def test_no_key_is_a_401_and_an_admin_key_may_post(client: ApiClient, db: Any) -> None:
    assert client.post(PATH, notification(alert(labels("api-1"))), scopes=None).status == 401
    assert alert_tables(db) == {"alerts": [], "alert_episodes": []}
    assert summary(post(client, notification(alert(labels("api-1"))), scopes=("admin",))) == (1, 1, 0)


def test_an_alerts_write_key_can_do_nothing_else(client: ApiClient, db: Any) -> None:
    """The key Alertmanager holds (docs/operations.md): it can post alerts, and not read or change the catalog."""
    assert client.get("/api/v1/playbooks", scopes=WRITE).status == 403
    assert client.get("/api/v1/executions", scopes=WRITE).status == 403
    assert client.post("/api/v1/api-keys", {"name": "x", "scopes": ["admin"]}, scopes=WRITE).status == 403
