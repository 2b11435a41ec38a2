"""The effectiveness judgement as a truth table (chalicelib/domain/effectiveness.py): which episodes count (firing at
some moment from the run's start to the window's end), what "still firing" and "fired again" mean at the window's
edges, the evidence, which alerts count, the track record's rates; and the vocabulary is migration 017's. The same
rule on the real database, the local server and a real Alertmanager: tests/alerts/test_effectiveness*.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.alerts import FIRING, RESOLVED, SUPERSEDED
from chalicelib.domain.effectiveness import (
    EFFECTIVE,
    INEFFECTIVE,
    UNKNOWN,
    AlertBinding,
    SeenEpisode,
    TrackRecord,
    Window,
    judge,
)
from chalicelib.domain.limits import MAX_EVIDENCE_EPISODES

T = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
START, FINISH, END = T + timedelta(minutes=5), T + timedelta(minutes=10), T + timedelta(minutes=20)
WINDOW = Window.of(START, FINISH, END)  # ran 10:05-10:10, window to 10:20
BINDING = AlertBinding(None, "KubePodCrashLooping", "payments")


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def episode(fired: float, resolved: float | None = None, fingerprint: str = "690c51912b461cec",
            status: str | None = None) -> SeenEpisode:
    """An episode that fired ``fired`` minutes after 10:00 and resolved ``resolved`` minutes after (None: firing)."""
    return SeenEpisode(fingerprint, "KubePodCrashLooping", "payments", at(fired),
                       status or (FIRING if resolved is None else RESOLVED), None if resolved is None else at(resolved))


@pytest.mark.parametrize(("episodes", "verdict"), [
    ([], UNKNOWN),
    ([episode(0, 4)], UNKNOWN),  # resolved before the run started: not this run's incident
    ([episode(25)], UNKNOWN),  # fired after the window: a new incident
    ([episode(0, 5)], EFFECTIVE),  # resolved the moment the run started: counts, resolved
    ([episode(-60, 7)], EFFECTIVE),  # resolved while it ran
    ([episode(-60, 12)], EFFECTIVE),  # resolved within the window
    ([episode(-60, 20)], EFFECTIVE),  # resolved on the window's last moment
    ([episode(-60, 20.001)], INEFFECTIVE),  # resolved after the window ended: still firing at its end
    ([episode(-60)], INEFFECTIVE),  # still firing
    ([episode(-60, 12), episode(15)], INEFFECTIVE),  # resolved, then firing again
    ([episode(-60, 12), episode(15, 17)], INEFFECTIVE),  # fired again within the window, even if briefly
    ([episode(-60, 12), episode(20, 21)], INEFFECTIVE),  # fired again on the window's last moment
    ([episode(-60, 12), episode(25)], EFFECTIVE),  # fired again after the window: not counted
    ([episode(-60, 6), episode(8, 9)], EFFECTIVE),  # flapped while the run was under way, resolved before it ended
    ([episode(-60, 6), episode(10, 11)], EFFECTIVE),  # fired the moment it finished: not "again"
    ([episode(-60, 6), episode(10.001, 11)], INEFFECTIVE),  # a moment after it finished: again
    # Superseded (its resolution never heard; a later episode began at its ends_at): firing until then at the latest.
    ([episode(-60, 15, status=SUPERSEDED), episode(15)], INEFFECTIVE),
    ([episode(-60, 25, status=SUPERSEDED)], INEFFECTIVE),
    ([episode(-60, 8, status=SUPERSEDED), episode(8, 12)], EFFECTIVE),
    # Several alerts: every one must resolve and stay resolved.
    ([episode(-60, 12), episode(-30, fingerprint="11112222333344aa")], INEFFECTIVE),
    ([episode(-60, 12), episode(-30, 14, fingerprint="11112222333344aa")], EFFECTIVE),
])
def test_the_verdict(episodes: list[SeenEpisode], verdict: str) -> None:
    assert judge(BINDING, WINDOW, episodes).verdict == verdict


def test_without_a_reported_start_the_run_counts_from_its_finish() -> None:
    unstarted = Window.of(None, FINISH, END)
    assert unstarted.since == FINISH
    assert judge(BINDING, unstarted, [episode(0, 7)]).verdict == UNKNOWN  # over before the finish
    assert judge(BINDING, unstarted, [episode(0, 10)]).verdict == EFFECTIVE
    assert judge(BINDING, WINDOW, [episode(0, 7)]).verdict == EFFECTIVE  # with the start: it resolved during the run


def test_the_evidence_lists_what_counted_and_says_why() -> None:
    judged = judge(BINDING, WINDOW, [episode(-60, 12), episode(15), episode(0, 2), episode(30)])
    assert judged.verdict == INEFFECTIVE
    evidence = judged.evidence
    assert evidence["alerts"] == {"alertname": "KubePodCrashLooping", "namespace": "payments"}
    assert (evidence["since"], evidence["finished_at"], evidence["window_ends_at"]) == (
        "2026-12-07T10:05:00.000Z", "2026-12-07T10:10:00.000Z", "2026-12-07T10:20:00.000Z")
    assert evidence["episodes_counted"] == 2
    assert evidence["episodes"] == [
        {"fingerprint": "690c51912b461cec", "alertname": "KubePodCrashLooping", "namespace": "payments",
         "fired_at": "2026-12-07T10:15:00.000Z", "status": "firing", "resolved_at": None, "fired_again": True,
         "firing_at_window_end": True},  # the deciding one first
        {"fingerprint": "690c51912b461cec", "alertname": "KubePodCrashLooping", "namespace": "payments",
         "fired_at": "2026-12-07T09:00:00.000Z", "status": "resolved", "resolved_at": "2026-12-07T10:12:00.000Z",
         "fired_again": False, "firing_at_window_end": False},
    ]
    assert evidence["summary"] == (
        "Ineffective: 1 alert(s) (KubePodCrashLooping) still firing when the window ended (2026-12-07T10:20:00.000Z) "
        "and 1 alert(s) (KubePodCrashLooping) fired again within the window, after the run finished "
        "(2026-12-07T10:10:00.000Z).")


def test_the_summary_of_each_verdict() -> None:
    assert judge(BINDING, WINDOW, [episode(-60, 12), episode(-5, 14, fingerprint="11112222333344aa")]
                 ).evidence["summary"] == ("Effective: 2 alert(s) (KubePodCrashLooping) resolved (the last at "
                                           "2026-12-07T10:14:00.000Z) and did not fire again before the window ended "
                                           "(2026-12-07T10:20:00.000Z).")
    assert judge(AlertBinding("690c51912b461cec", None, None), WINDOW, []).evidence["summary"] == (
        "No episode of alert 690c51912b461cec was firing between the run's start (2026-12-07T10:05:00.000Z) and the "
        "window's end (2026-12-07T10:20:00.000Z): nothing to judge by.")


def test_the_evidence_is_bounded_and_keeps_the_deciding_episodes() -> None:
    many = [episode(-60, 12, fingerprint=f"{index:016x}") for index in range(200)]
    deciding = episode(-60, fingerprint="ffffffffffffffff")
    evidence = judge(BINDING, WINDOW, [*many, deciding]).evidence
    assert evidence["episodes_counted"] == 201 and len(evidence["episodes"]) == MAX_EVIDENCE_EPISODES
    assert evidence["episodes"][0]["fingerprint"] == "ffffffffffffffff"


@pytest.mark.parametrize(("incident", "namespace", "binding"), [
    ({"id": "I", "signal_type": "KubePodCrashLooping", "alert_fingerprint": "690c51912b461cec"}, "payments",
     AlertBinding("690c51912b461cec", None, None)),  # the alert the incident names, alone
    ({"id": "I", "signal_type": "KubePodCrashLooping"}, "payments", AlertBinding(None, "KubePodCrashLooping", "payments")),
    ({"id": "I", "signal_type": "NodeDiskPressure"}, None, AlertBinding(None, "NodeDiskPressure", None)),
])
def test_which_alerts_count(incident: dict[str, str], namespace: str | None, binding: AlertBinding) -> None:
    assert AlertBinding.of(incident, namespace) == binding


def test_the_effectiveness_rate_is_effective_over_every_verdict() -> None:
    record = TrackRecord(executions=9, succeeded=6, failed=2, effective=1, ineffective=3, unknown=2)
    assert (record.success_rate, record.judged, record.effectiveness_rate) == (0.75, 6, pytest.approx(1 / 6))
    nothing = TrackRecord(executions=1, succeeded=0, failed=0, effective=0, ineffective=0, unknown=0)
    assert (nothing.success_rate, nothing.effectiveness_rate) == (None, None)
    only_unknown = TrackRecord.of_row({"executions": 2, "succeeded": 2, "failed": 0, "effective": 0,
                                       "ineffective": 0, "unknown": 2})
    assert (only_unknown.success_rate, only_unknown.judged, only_unknown.effectiveness_rate) == (1.0, 2, 0.0)
