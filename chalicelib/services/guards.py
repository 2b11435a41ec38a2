"""The guardrails at work (README, "Guardrails"): checked for every start, and the circuit breaker tripped when an
execution finishes. The rules are chalicelib/domain/guards.py's; the SQL is chalicelib/stores/guard_store.py's.

Each function runs in its caller's transaction. A start (a new execution, or an approved one) calls ``enforce``
holding its workflow's start lock (execution_store.workflow_for_start), so starts of one workflow check and insert
one after the other and no limit is exceeded under concurrency; a dry run calls ``evaluate`` without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import GuardRefusal
from chalicelib.domain.executions import Target
from chalicelib.domain.guards import (
    CIRCUIT,
    CLOSED,
    OPEN,
    SYSTEM,
    Circuit,
    GuardFacts,
    GuardSettings,
    breaker_trips,
    refusals,
    trip_reason,
)
from chalicelib.domain.notifications import circuit_opened
from chalicelib.observability import logger
from chalicelib.services import notifications
from chalicelib.stores import guard_store as store
from chalicelib.stores import workflow_store
from chalicelib.stores.db import UnitOfWork


@dataclass(frozen=True)
class Verdict:
    """What the guards say of a start: every refusal (empty: it may run) and the execution holding its target."""

    refusals: list[GuardRefusal]
    target_holder: str | None


def evaluate(tx: UnitOfWork, workflow: Mapping[str, Any], target: Target, signal_type: str, defaults: GuardSettings,
             exclude_execution_id: str | None = None) -> Verdict:
    """Every guard's verdict on running ``workflow`` (a row of execution_store.workflow_for_start) on ``target`` for
    an incident of ``signal_type`` now; ``exclude_execution_id``: the approved execution being started, which is not
    one of the others."""
    workflow_id = str(workflow["workflow_id"])
    settings = defaults.resolve(workflow)
    facts = GuardFacts.of_row(store.guard_facts(tx, workflow_id, target, signal_type, settings, exclude_execution_id))
    return Verdict(refusals(workflow_id, target, signal_type, settings, facts), facts.target_holder)


def enforce(tx: UnitOfWork, workflow: Mapping[str, Any], target: Target, signal_type: str, defaults: GuardSettings,
            exclude_execution_id: str | None = None) -> None:
    """Raises the first refusal, if any guard refuses (logged with every guard that does)."""
    found = evaluate(tx, workflow, target, signal_type, defaults, exclude_execution_id).refusals
    if not found:
        return
    logger.warning("execution refused by a guard", extra={
        "workflow_id": workflow["workflow_id"], "guard": found[0].slug, "guards": [r.slug for r in found],
        "target": str(target), "retry_after": found[0].retry_after, "execution_id": exclude_execution_id,
    })
    raise found[0]


def trip_breaker(tx: UnitOfWork, execution: Mapping[str, Any]) -> None:
    """Opens the circuit of the workflow of ``execution``, which has just finished, when half or more of its last
    finished executions (since the circuit last closed) failed: recorded in the workflow's history and notified
    (guard.circuit_opened) in this transaction."""
    workflow_id = str(execution["workflow_id"])
    store.lock_breaker(tx, workflow_id)
    facts = store.breaker_facts(tx, workflow_id)
    failed, finished = int(facts["failed"]), int(facts["finished"])
    if Circuit.of_row(facts).is_open or not breaker_trips(failed, finished):
        return
    reason = trip_reason(failed, finished, str(execution["execution_id"]), str(execution["status"]))
    workflow_store.record_change(tx, workflow_id, None, CIRCUIT, CLOSED, OPEN, reason, SYSTEM)
    notifications.record(tx, circuit_opened(workflow_id=workflow_id, reason=reason, failed=failed, finished=finished,
                                            actor=SYSTEM))
    logger.warning("circuit opened", extra={"workflow_id": workflow_id, "execution_id": execution["execution_id"],
                                            "failed": failed, "finished": finished})
