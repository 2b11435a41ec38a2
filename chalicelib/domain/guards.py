"""Guardrails (README, "Guardrails"): what stops a remediation that should not run now. Pure rules, no I/O.

Five guards, each a 409 problem of chalicelib/domain/errors.py (``GUARD_REFUSALS``) whose slug is its name:
- ``recently-remediated``: an execution of the workflow on the target finished (succeeded or failed) less than the
  workflow's ``cooldown_seconds`` ago;
- ``consecutive-failures``: the last ``max_consecutive_failures`` finished executions of the workflow on the target
  all failed. Only an operator's clear ends the streak: it marks the newest of them, and the streak counts back
  from the newest finished execution to the first that succeeded or was so marked;
- ``rate-limited``: ``max_executions_per_hour`` executions of the workflow were requested in the last hour (those
  rejected or expired excepted: they never ran), or ``max_concurrent`` of them are active, across every target and
  cluster (the blast radius);
- ``circuit-open``: the workflow's circuit breaker is open. It opens by itself when an execution finishes and half
  or more of the workflow's last 10 finished executions failed (at least 5 finished, counted since the last
  close), and stays open until an operator closes it;
- ``ineffective-chain``: the workflow was judged ineffective on the target for the incident's signal_type twice
  (``INEFFECTIVE_CHAIN``) among its executions there that finished in the last 24 hours (``CHAIN_WINDOW``;
  chalicelib/domain/effectiveness.py): running it again is unlikely to fix the incident. Lifted by time, when the
  older of those executions finished 24 hours ago.

"Finished" means succeeded or failed: a rejected or expired execution never ran. The settings are per workflow
(unset: the configured default, ``DEFAULT_<NAME>``); the circuit's state is the latest ``circuit`` change in the
workflow's history. ``refusals`` is the one place that decides, from the facts one query gathers
(chalicelib/stores/guard_store.py ``guard_facts``); the REST route, the start of an approved execution and the MCP
tool (which runs the route) all reach it through chalicelib/services/guards.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.contracts import FAILURE_STREAK_CLEAR
from chalicelib.domain.effectiveness import CHAIN_WINDOW, INEFFECTIVE_CHAIN
from chalicelib.domain.errors import (
    GUARD_REFUSALS,
    CircuitOpen,
    ConsecutiveFailures,
    GuardRefusal,
    IneffectiveChain,
    RateLimited,
    RecentlyRemediated,
)
from chalicelib.domain.executions import Target
from chalicelib.domain.timestamps import rfc3339
from chalicelib.domain.vocabularies import CircuitState, DryRunOutcome, GuardSetting, HistoryField

COOLDOWN_SECONDS, MAX_CONSECUTIVE_FAILURES, MAX_EXECUTIONS_PER_HOUR, MAX_CONCURRENT = GuardSetting
SETTING_NAMES = tuple(GuardSetting)  # the four above, with their bounds in domain/limits.py

GUARD_NAMES = tuple(refusal.slug for refusal in GUARD_REFUSALS)  # their problem slugs (domain/errors.py)

CLOSED, OPEN = CircuitState
CIRCUIT_STATES = tuple(CircuitState)
# The fields guards write in the workflow's history (domain/vocabularies.py HistoryField): each setting, the circuit
# (closed -> open by the catalog, open -> closed by an operator), an operator's clear.
CIRCUIT, FAILURE_STREAK = HistoryField.CIRCUIT, HistoryField.FAILURE_STREAK
HISTORY_FIELDS = (*SETTING_NAMES, CIRCUIT, FAILURE_STREAK)
CLEARED = "cleared"
SYSTEM = "system"  # the catalog itself as the actor: opens a circuit, expires an execution, acts without a key

BREAKER_WINDOW = 10  # the last finished executions the breaker looks at
BREAKER_MIN_FINISHED = 5  # fewer than this say too little to open it
RATE_WINDOW = timedelta(hours=1)
CHAIN_HOURS = int(CHAIN_WINDOW / timedelta(hours=1))
# Nobody knows when an active execution will finish: a hint that keeps a polling agent from hammering.
CONCURRENT_RETRY_SECONDS = 30

# What a dry run of a start answers (POST /api/v1/executions with dry_run).
WOULD_RUN, WOULD_AWAIT_APPROVAL, BLOCKED = DryRunOutcome
DRY_RUN_OUTCOMES = tuple(DryRunOutcome)

OPERATOR_PATCH = "PATCH /api/v1/playbooks/{workflow_id} with {body} and a reason (scope catalog:write)"


@dataclass(frozen=True)
class GuardSettings:
    """A workflow's guard settings (or, as configured, the defaults)."""

    cooldown_seconds: int
    max_consecutive_failures: int
    max_executions_per_hour: int
    max_concurrent: int

    def resolve(self, stored: Mapping[str, Any]) -> GuardSettings:
        """The settings in force for a workflow row (each column unset: this default)."""
        return replace(self, **{name: int(stored[name]) for name in SETTING_NAMES if stored.get(name) is not None})

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


DEFAULTS = GuardSettings(cooldown_seconds=300, max_consecutive_failures=3, max_executions_per_hour=60,
                         max_concurrent=10)


@dataclass(frozen=True)
class Circuit:
    """A workflow's circuit breaker: its state and the history record that set it (none: never opened)."""

    state: str = CLOSED
    changed_at: datetime | None = None
    changed_by: str | None = None
    reason: str | None = None

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> Circuit:
        """From the ``circuit``, ``circuit_changed_at``, ``circuit_changed_by``, ``circuit_reason`` columns."""
        if row.get("circuit") is None:
            return cls()
        return cls(row["circuit"], row["circuit_changed_at"], row["circuit_changed_by"], row["circuit_reason"])

    @property
    def is_open(self) -> bool:
        return self.state == OPEN


@dataclass(frozen=True)
class LastRun:
    """The newest finished execution of the workflow on the target."""

    execution_id: str
    status: str
    finished_at: datetime


@dataclass(frozen=True)
class IneffectiveRun:
    """An execution of the workflow on the target, for the signal, judged ineffective."""

    execution_id: str
    finished_at: datetime


@dataclass(frozen=True)
class GuardFacts:
    """What the guards read, gathered by one query at the transaction's time ``now``."""

    now: datetime
    circuit: Circuit
    last_run: LastRun | None
    failure_streak: int  # the streak on the target (counted up to max_consecutive_failures)
    active: int  # the workflow's active executions, anywhere (counted up to max_concurrent)
    hour_full_since: datetime | None  # in a full hour: the request time of the max_executions_per_hour-th newest
    target_holder: str | None  # the active execution on the target (the insert decides it for a real start)
    # Its executions on the target for the signal judged ineffective that finished within CHAIN_WINDOW, newest first
    # (at most INEFFECTIVE_CHAIN).
    ineffective: tuple[IneffectiveRun, ...] = ()

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> GuardFacts:
        last = None
        if row["last_execution_id"] is not None:
            last = LastRun(row["last_execution_id"], row["last_status"], row["last_finished_at"])
        ineffective = tuple(IneffectiveRun(execution_id, finished_at) for execution_id, finished_at in zip(
            row["ineffective_ids"], row["ineffective_finished"], strict=True))
        return cls(row["now"], Circuit.of_row(row), last, failure_streak(row["streak_failures"]), int(row["active"]),
                   row["hour_full_since"], row["target_holder"], ineffective)


def failure_streak(newest_first: Sequence[bool]) -> int:
    """The failure streak on a target, from its newest finished executions (newest first, each True when it failed
    and is not the end an operator's clear marked): those before the first that succeeded or was so marked."""
    streak = 0
    for failure in newest_first:
        if not failure:
            break
        streak += 1
    return streak


def refusals(workflow_id: str, target: Target, signal_type: str, settings: GuardSettings, facts: GuardFacts
             ) -> list[GuardRefusal]:
    """Every guard that refuses to run ``workflow_id`` on ``target`` for an incident of ``signal_type`` now, in the
    order of GUARD_REFUSALS (empty: it may run). Each detail says which guard, why, when to retry and who can lift
    it."""
    found: list[GuardRefusal] = []
    if facts.circuit.is_open:
        circuit = facts.circuit
        since = f" since {rfc3339(circuit.changed_at)}" if circuit.changed_at else ""
        why = f" ({circuit.reason})" if circuit.reason else ""
        found.append(CircuitOpen(
            f"Guard circuit-open: the circuit breaker of workflow '{workflow_id}' is open{since}{why}, so it runs on "
            "no target. Waiting does not help: an operator must find out why it fails and close the circuit ("
            + _operator(workflow_id, '{"circuit": "closed"}') + "). Escalate to a human.", None))
    streak = settings.max_consecutive_failures
    if facts.failure_streak >= streak:
        latest = f" (the latest: execution {facts.last_run.execution_id})" if facts.last_run else ""
        found.append(ConsecutiveFailures(
            f"Guard consecutive-failures: the last {streak} executions of '{workflow_id}' on {target} failed{latest}. "
            f"Waiting does not help: an operator must find out why and clear the streak (POST /api/v1/playbooks/"
            f"{workflow_id}/guards/clear with the target and a reason, scope catalog:write). Escalate to a human.",
            None))
    chain = [run for run in facts.ineffective if facts.now - run.finished_at < CHAIN_WINDOW]
    if len(chain) >= INEFFECTIVE_CHAIN:
        older = chain[INEFFECTIVE_CHAIN - 1]
        wait = _seconds(older.finished_at + CHAIN_WINDOW - facts.now)
        runs = ", ".join(run.execution_id for run in chain[:INEFFECTIVE_CHAIN])
        found.append(IneffectiveChain(
            f"Guard ineffective-chain: '{workflow_id}' ran on {target} for signal {signal_type} and was judged "
            f"ineffective {INEFFECTIVE_CHAIN} times in the last {CHAIN_HOURS} hours (executions {runs}): the alert was "
            "still firing at the end of its effectiveness window, or fired again within it. Running it again is "
            f"unlikely to fix the incident: escalate to a human. It may run there again in {wait} s, when the older "
            f"of those executions finished {CHAIN_HOURS} hours ago.", wait))
    last = facts.last_run
    cooldown = timedelta(seconds=settings.cooldown_seconds)
    if last is not None and facts.now - last.finished_at < cooldown:
        wait = _seconds(last.finished_at + cooldown - facts.now)
        ago = max(0, int((facts.now - last.finished_at).total_seconds()))
        found.append(RecentlyRemediated(
            f"Guard recently-remediated: '{workflow_id}' finished on {target} {ago} s ago (execution "
            f"{last.execution_id}, {last.status}) and its cooldown is {settings.cooldown_seconds} s. Retry after "
            f"{wait} s if the problem persists, once the last remediation has had time to work; an operator may "
            "change cooldown_seconds (" + _operator(workflow_id, '{"guards": {"cooldown_seconds": N}}') + ").",
            wait))
    rate = _rate_refusal(workflow_id, settings, facts)
    if rate is not None:
        found.append(rate)
    return found


def _rate_refusal(workflow_id: str, settings: GuardSettings, facts: GuardFacts) -> RateLimited | None:
    reasons, waits = [], []
    if facts.hour_full_since is not None:
        waits.append(_seconds(facts.hour_full_since + RATE_WINDOW - facts.now))
        reasons.append(f"{settings.max_executions_per_hour} executions of '{workflow_id}' were requested in the last "
                       f"hour (max_executions_per_hour {settings.max_executions_per_hour}); the next slot frees in "
                       f"{waits[-1]} s")
    if facts.active >= settings.max_concurrent:
        waits.append(CONCURRENT_RETRY_SECONDS)
        reasons.append(f"{facts.active} executions of '{workflow_id}' are active (awaiting approval, approved, pending "
                       f"or running; max_concurrent {settings.max_concurrent}); one must finish first")
    if not reasons:
        return None
    wait = max(waits)
    return RateLimited(
        f"Guard rate-limited: {'; and '.join(reasons)}. The limits count every target and cluster. Retry after "
        f"{wait} s; an operator may raise the limits ("
        + _operator(workflow_id, '{"guards": {"max_executions_per_hour": N, "max_concurrent": N}}') + ").", wait)


def breaker_trips(failed: int, finished: int) -> bool:
    """Does the circuit open, ``failed`` of the last ``finished`` (at most BREAKER_WINDOW) executions having failed?"""
    return finished >= BREAKER_MIN_FINISHED and 2 * failed >= finished


def trip_reason(failed: int, finished: int, execution_id: str, status: str) -> str:
    """Why a circuit opened, as its history record and its notification say it."""
    return f"{failed} of its last {finished} finished executions failed; the last to finish, {execution_id}, {status}"


def streak_record(target: Target, failures: int) -> str:
    """The ``from`` of a clear in the workflow's history: what was cleared."""
    return f"{failures} failed in a row on {target}"


def settings_record(stored: int | None, default: int) -> str:
    """A setting as the workflow's history writes it: its value, or the default in force."""
    return str(stored) if stored is not None else f"{default} (default)"


def parse_clear(body: Mapping[str, Any]) -> tuple[Target, str]:
    """The target and reason of an operator's clear of a failure streak."""
    FAILURE_STREAK_CLEAR.check(body)
    return Target.from_dict(body["target"]), body["reason"].strip()


def _operator(workflow_id: str, body: str) -> str:
    return OPERATOR_PATCH.format(workflow_id=workflow_id, body=body)


def _seconds(delta: timedelta) -> int:
    """Whole seconds to wait, at least 1 (a retry sooner would meet the same refusal)."""
    return max(1, math.ceil(delta.total_seconds()))
