"""chalicelib/domain/alerts.py: Alertmanager's times and how a report changes the record; and the fingerprint the
test bodies carry (tests/support/alerts.py), pinned to Alertmanager's own values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain import contracts
from chalicelib.domain.alerts import (
    ALERT_STATUSES,
    EPISODE_STATUSES,
    FIRING,
    RESOLVED,
    SUPERSEDED,
    Episode,
    Known,
    ReportedAlert,
    parse_notification,
    plainly_valid,
    plan,
    plan_all,
)
from chalicelib.domain.contracts import ALERTMANAGER_NOTIFICATION
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.limits import MAX_ALERT_LABEL_VALUE
from chalicelib.domain.validation import schema_errors
from tests.support.alerts import alertmanager_fingerprint


def test_the_contract_names_the_domains_statuses() -> None:
    """(The migration's CHECK: tests/integration/test_vocabularies.py.)"""
    schema = ALERTMANAGER_NOTIFICATION.schema["properties"]
    assert schema["status"]["enum"] == schema["alerts"]["items"]["properties"]["status"]["enum"] == list(ALERT_STATUSES)
    assert set(ALERT_STATUSES) < set(EPISODE_STATUSES)


@pytest.mark.parametrize(("labels", "fingerprint"), [
    # Sent by a real Alertmanager 0.25 (tests/alerts/test_alertmanager.py checks more of them live).
    ({"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "api-1", "severity": "critical"},
     "690c51912b461cec"),
    # Non-ASCII names and values (hashed as UTF-8), and an uppercase name sorting before lowercase ones.
    ({"alertname": "Ünïcode", "namespace": "zürich", "Zeta": "ß", "a": "日本語", "instance": "10.0.0.1:9100"},
     "97c0c14648279136"),
    ({}, "cbf29ce484222325"),  # FNV-1a's offset basis: the empty label set
])
def test_the_fingerprint_is_alertmanagers(labels: dict[str, str], fingerprint: str) -> None:
    assert alertmanager_fingerprint(labels) == fingerprint


def test_a_name_value_boundary_moves_the_fingerprint() -> None:
    """The separator byte keeps {"ab": "c"} and {"a": "bc"} apart."""
    assert alertmanager_fingerprint({"ab": "c"}) != alertmanager_fingerprint({"a": "bc"})


def body(starts: str = "2026-12-01T10:00:00.123456789Z", ends: str = "0001-01-01T00:00:00Z",
         status: str = "firing") -> dict:
    labels = {"alertname": "X", "namespace": "n"}
    return {"version": "4", "alerts": [{"status": status, "labels": labels, "startsAt": starts, "endsAt": ends,
                                        "fingerprint": alertmanager_fingerprint(labels)}]}


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-12-01T10:00:00.123456789Z", datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)),  # ns cut to µs
    ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
    ("2026-12-01T11:30:00.5+01:30", datetime(2026, 12, 1, 10, 0, 0, 500000, tzinfo=UTC)),
    ("2026-12-01t09:00:00-01:00", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
])
def test_times_as_go_writes_them(text: str, moment: datetime) -> None:
    assert parse_notification(body(text)).alerts[0].starts_at == moment


def test_a_firing_alerts_zero_end_means_none_and_a_resolved_one_keeps_its_end() -> None:
    assert parse_notification(body()).alerts[0].ends_at is None
    ends = "2026-12-01T10:05:00Z"
    assert parse_notification(body(ends=ends, status="resolved")).alerts[0].ends_at == datetime(
        2026, 12, 1, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-12-01 10:00:00Z", "2026-12-01T10:00:00", "2026-12-01T10:00:00.Z",
                                  "2026-12-01T10:00:00.1234567890Z", "2026-13-01T10:00:00Z", "2026-12-01T10:00:00+2400",
                                  "2026-12-01", "0001-01-01T00:00:00+01:00"])
def test_what_is_not_an_rfc_3339_time(text: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_notification(body(text))
    assert [e.path for e in raised.value.errors] == ["$.alerts[0].startsAt"]


T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
T1, T2, T3 = (T0 + timedelta(minutes=m) for m in (5, 10, 15))
FP = "0123456789abcdef"


def reported(status: str, starts: datetime, ends: datetime | None = None) -> ReportedAlert:
    return ReportedAlert(FP, status, starts, ends, {})


def episode(status: str, starts: datetime, ends: datetime | None = None) -> Episode:
    return Episode(FP, starts, status, ends)


# (what is reported, latest recorded episode, recorded episode with the same startsAt) -> writes
RULES = [
    ("new alert, firing", reported(FIRING, T0), None, None, [episode(FIRING, T0)]),
    ("new alert, seen resolved first", reported(RESOLVED, T0, T1), None, None, [episode(RESOLVED, T0, T1)]),
    ("firing again: same", reported(FIRING, T0), episode(FIRING, T0), episode(FIRING, T0), []),
    ("resolves", reported(RESOLVED, T0, T1), episode(FIRING, T0), episode(FIRING, T0), [episode(RESOLVED, T0, T1)]),
    ("resolved again: same", reported(RESOLVED, T0, T1), episode(RESOLVED, T0, T1), episode(RESOLVED, T0, T1), []),
    ("late firing after the resolution", reported(FIRING, T0), episode(RESOLVED, T0, T1), episode(RESOLVED, T0, T1),
     []),
    ("another resolution time of a resolved episode: the first stays", reported(RESOLVED, T0, T2),
     episode(RESOLVED, T0, T1), episode(RESOLVED, T0, T1), []),
    ("fires again after resolving: a new episode", reported(FIRING, T2), episode(RESOLVED, T0, T1), None,
     [episode(FIRING, T2)]),
    ("fires again, the resolution never seen: the open episode is superseded", reported(FIRING, T2),
     episode(FIRING, T0), None, [episode(SUPERSEDED, T0, T2), episode(FIRING, T2)]),
    ("a later episode reported resolved also supersedes the open one", reported(RESOLVED, T2, T3),
     episode(FIRING, T0), None, [episode(SUPERSEDED, T0, T2), episode(RESOLVED, T2, T3)]),
    ("the real resolution of a superseded episode replaces the bound", reported(RESOLVED, T0, T1),
     episode(FIRING, T2), episode(SUPERSEDED, T0, T2), [episode(RESOLVED, T0, T1)]),
    ("a late firing of a superseded episode", reported(FIRING, T0), episode(FIRING, T2), episode(SUPERSEDED, T0, T2),
     []),
    ("a late firing of an older episode never seen", reported(FIRING, T0), episode(FIRING, T2), None, []),
    ("a late resolution of an older episode never seen is kept", reported(RESOLVED, T0, T1), episode(FIRING, T2),
     None, [episode(RESOLVED, T0, T1)]),
]


@pytest.mark.parametrize(("case", "alert", "latest", "same", "writes"), RULES, ids=[rule[0] for rule in RULES])
def test_how_a_report_changes_the_record(case: str, alert: ReportedAlert, latest: Episode | None, same: Episode | None,
                                         writes: list[Episode]) -> None:
    assert plan(alert, Known(latest, same)) == writes


def test_any_order_of_the_same_reports_ends_in_the_same_record() -> None:
    """Notifications arrive in any order (retries, HA pairs): applying every permutation of an alert's
    reports gives one final record, the one Alertmanager's own order gives."""
    from itertools import permutations

    reports = [reported(FIRING, T0), reported(RESOLVED, T0, T1), reported(FIRING, T2), reported(RESOLVED, T2, T3)]
    finals = set()
    for order in permutations(reports):
        record: dict[datetime, Episode] = {}
        for alert in order:
            latest = record[max(record)] if record else None
            for write in plan(alert, Known(latest, record.get(alert.starts_at))):
                record[write.starts_at] = write
        finals.add(tuple(sorted(record.items())))
    assert finals == {((T0, episode(RESOLVED, T0, T1)), (T2, episode(RESOLVED, T2, T3)))}


def test_a_plan_counts_the_alerts_it_changes_and_orders_its_writes() -> None:
    other = ReportedAlert("00000000000000ff", FIRING, T0, None, {})
    result = plan_all([reported(FIRING, T2), other],
                      {FP: Known(episode(FIRING, T0), None), other.fingerprint: Known(Episode(other.fingerprint, T0,
                                                                                             FIRING, None), None)})
    assert result.changed == 1
    assert result.writes == [episode(SUPERSEDED, T0, T2), episode(FIRING, T2)]


# --- the contract's fast look at an alert (chalicelib/domain/alerts.py plainly_valid) -----------------------------
TIMES = st.one_of(st.sampled_from(["2026-12-01T10:00:00.123456789Z", "0001-01-01T00:00:00Z",
                                   "2026-12-01t09:00:00-01:00", "2026-12-01T10:00:00", "", "yesterday"]),
                  st.text(max_size=70), st.integers(), st.none())
LABEL_VALUES = st.one_of(st.text(max_size=8), st.sampled_from(["x" * MAX_ALERT_LABEL_VALUE,
                                                                "x" * (MAX_ALERT_LABEL_VALUE + 1)]),
                         st.integers(), st.booleans(), st.none(), st.lists(st.text(max_size=2), max_size=2))
ALERTS = st.fixed_dictionaries({}, optional={
    "status": st.one_of(st.sampled_from(["firing", "resolved", "Firing", "pending"]), st.integers(), st.none()),
    "labels": st.one_of(st.dictionaries(st.text(max_size=6), LABEL_VALUES, max_size=4),
                        st.lists(st.text(max_size=2), max_size=2), st.text(max_size=4), st.none()),
    "startsAt": TIMES, "endsAt": TIMES,
    "fingerprint": st.one_of(st.sampled_from(["690c51912b461cec", "690C51912B461CEC", "690c51912b461cec\n",
                                              "690c51912b461ce"]), st.text(max_size=17), st.integers()),
    "annotations": st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ALERTS)
def test_the_fast_look_accepts_only_alerts_the_contract_accepts(alert: dict) -> None:
    """contract_errors hands an alert to the validator unless plainly_valid says yes: a yes must be the validator's."""
    if plainly_valid(alert):
        assert schema_errors(contracts.ALERT, alert) == []


def test_alertmanagers_own_alerts_take_the_fast_look() -> None:
    """What Alertmanager sends never costs the validator's time per alert."""
    labels = {"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "api-1", "severity": "critical"}
    firing = {"status": "firing", "labels": labels, "annotations": {"summary": "s"}, "generatorURL": "http://p/g",
              "startsAt": "2026-12-01T10:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
              "fingerprint": alertmanager_fingerprint(labels)}
    assert plainly_valid(firing) and plainly_valid({**firing, "status": "resolved", "endsAt": "2026-12-01T10:05:00Z"})
    assert not plainly_valid({**firing, "status": "resolved", "endsAt": None})
