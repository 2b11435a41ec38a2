"""The guard policy as a truth table (chalicelib/domain/guards.py): the boundaries of each guard, the order of the
refusals, the breaker's rule, the failure streak, settings resolution. The same rules on the real database and the
local server: tests/executions/test_guards.py, test_circuit_breaker.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import GUARD_REFUSALS
from chalicelib.domain.executions import Target
from chalicelib.domain.guards import (
    DEFAULTS,
    GUARD_NAMES,
    OPEN,
    Circuit,
    GuardFacts,
    IneffectiveRun,
    LastRun,
    breaker_trips,
    failure_streak,
    refusals,
)

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
TARGET = Target("Deployment", "checkout", "shop")


def facts(**changes: object) -> GuardFacts:
    nothing = GuardFacts(now=NOW, circuit=Circuit(), last_run=None, failure_streak=0, active=0, hour_full_since=None,
                         target_holder=None)
    return replace(nothing, **changes)


def refused(**changes: object) -> list[tuple[str, int | None]]:
    return [(r.slug, r.retry_after) for r in refusals("wf", TARGET, "KubePodCrashLooping", DEFAULTS, facts(**changes))]


def test_nothing_refuses_a_workflow_with_no_history() -> None:
    assert refused() == []


@pytest.mark.parametrize(("seconds_ago", "expected"), [
    (0.0, [("recently-remediated", 300)]),
    (299.0, [("recently-remediated", 1)]),  # the cooldown's last second
    (299.4, [("recently-remediated", 1)]),  # a part of a second still waits a whole one
    (300.0, []),
    (3600.0, []),
])
def test_the_cooldown_ends_on_its_last_second(seconds_ago: float, expected: list[tuple[str, int]]) -> None:
    last = LastRun("e-1", "succeeded", NOW - timedelta(seconds=seconds_ago))
    assert refused(last_run=last) == expected


@pytest.mark.parametrize(("streak", "expected"), [(2, []), (3, [("consecutive-failures", None)]),
                                                  (4, [("consecutive-failures", None)])])
def test_the_nth_failure_refuses(streak: int, expected: list[tuple[str, None]]) -> None:
    assert refused(failure_streak=streak) == expected


def test_the_rate_limits_say_when_a_slot_frees() -> None:
    assert refused(hour_full_since=NOW - timedelta(minutes=59, seconds=30)) == [("rate-limited", 30)]
    assert refused(active=9) == []
    assert refused(active=10) == [("rate-limited", 30)]
    # Both full: one refusal, the longer wait, both reasons in words.
    [both] = refusals("wf", TARGET, "KubePodCrashLooping", DEFAULTS,
                      facts(active=10, hour_full_since=NOW - timedelta(minutes=10)))
    assert both.retry_after == 3000 and "max_executions_per_hour 60" in both.detail and "max_concurrent 10" in both.detail


def test_every_guard_refusing_comes_in_the_documented_order() -> None:
    every = refused(circuit=Circuit(OPEN, NOW, "system", "5 of its last 5 finished executions failed"),
                    failure_streak=3, last_run=LastRun("e-1", "failed", NOW), active=10,
                    ineffective=chain(1, 5))
    assert [slug for slug, _ in every] == list(GUARD_NAMES) == [r.slug for r in GUARD_REFUSALS]
    assert [retry for _, retry in every] == [None, None, 24 * 3600 - 5 * 3600, 300, 30]


def chain(*hours_ago: float) -> tuple[IneffectiveRun, ...]:
    """Executions judged ineffective (newest first), finished these many hours ago."""
    return tuple(IneffectiveRun(f"e-{index}", NOW - timedelta(hours=ago)) for index, ago in enumerate(hours_ago))


@pytest.mark.parametrize(("hours_ago", "expected"), [
    ((), []),
    ((1,), []),  # once is not a chain
    ((1, 2), [("ineffective-chain", 22 * 3600)]),  # free again when the older is 24 hours old
    ((0, 23.999), [("ineffective-chain", 4)]),  # a part of a second waits a whole one (3.6 s -> 4)
    ((0, 24), []),  # the older one is a day old: no longer counted
    ((3, 5, 30), [("ineffective-chain", 19 * 3600)]),
])
def test_two_ineffective_verdicts_refuse_until_the_older_is_a_day_old(hours_ago: tuple[float, ...],
                                                                     expected: list[tuple[str, int]]) -> None:
    assert refused(ineffective=chain(*hours_ago)) == expected


def test_the_chains_refusal_names_the_signal_the_executions_and_what_to_do() -> None:
    [refusal] = refusals("wf", TARGET, "KubePodCrashLooping", DEFAULTS, facts(ineffective=chain(1, 2)))
    assert refusal.detail.startswith("Guard ineffective-chain: 'wf' ran on Deployment shop/checkout for signal "
                                     "KubePodCrashLooping and was judged ineffective 2 times in the last 24 hours")
    assert "executions e-0, e-1" in refusal.detail and "escalate to a human" in refusal.detail


@pytest.mark.parametrize(("failed", "finished", "trips"), [
    (4, 4, False), (5, 5, True), (2, 5, False), (3, 5, True), (3, 6, True), (4, 9, False), (5, 10, True),
    (4, 10, False),
])
def test_the_breaker_opens_at_half_of_at_least_five(failed: int, finished: int, trips: bool) -> None:
    assert breaker_trips(failed, finished) is trips


@pytest.mark.parametrize(("newest_first", "streak"), [
    ([], 0), ([False], 0), ([True], 1), ([True, True, False, True], 2), ([False, True, True], 0),
    ([True, True, True, True], 4),
])
def test_a_streak_counts_from_the_newest_to_the_first_that_did_not_fail(newest_first: list[bool],
                                                                        streak: int) -> None:
    assert failure_streak(newest_first) == streak


def test_a_workflows_own_settings_win_over_the_defaults() -> None:
    stored = {"cooldown_seconds": 0, "max_consecutive_failures": None, "max_executions_per_hour": 5,
              "max_concurrent": None, "enabled": True}
    resolved = DEFAULTS.resolve(stored)
    assert resolved.to_dict() == {"cooldown_seconds": 0, "max_consecutive_failures": 3,
                                  "max_executions_per_hour": 5, "max_concurrent": 10}
