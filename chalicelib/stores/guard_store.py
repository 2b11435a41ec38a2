"""SQL of the guardrails: the one query the guard policy reads, the circuit breaker's facts, the clear of a failure
streak. No decisions here: chalicelib/domain/guards.py decides, chalicelib/services/guards.py acts."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.effectiveness import CHAIN_WINDOW, INEFFECTIVE, INEFFECTIVE_CHAIN
from chalicelib.domain.executions import Target
from chalicelib.domain.guards import BREAKER_WINDOW, CIRCUIT, GuardSettings
from chalicelib.domain.rows import Row
from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.execution_store import (
    ACTIVE_SQL,
    FINAL_SQL,
    OVERDUE_SQL,
    TARGET_KEY_SQL,
    TARGET_PARAMS_SQL,
    target_params,
)


def circuit_join(workflow_id: str) -> str:
    """A LEFT JOIN LATERAL giving the columns ``circuit``, ``circuit_changed_at``, ``circuit_changed_by`` and
    ``circuit_reason`` of the workflow whose id is the SQL expression ``workflow_id``: its latest circuit record
    (all NULL: never opened, so closed). Index status_changes_circuit (migration 015)."""
    return f"""LEFT JOIN LATERAL (
        SELECT sc.to_value AS circuit, sc.changed_at AS circuit_changed_at, sc.changed_by AS circuit_changed_by,
               sc.reason AS circuit_reason
        FROM status_changes sc WHERE sc.workflow_id = {workflow_id} AND sc.field = '{CIRCUIT}'
        ORDER BY sc.id DESC LIMIT 1) circuit ON true"""


def circuit(tx: UnitOfWork, workflow_id: str) -> Row:
    """The workflow's circuit columns (see ``circuit_join``)."""
    tx.execute(f"""SELECT circuit.* FROM (SELECT %s::text AS workflow_id) w {circuit_join("w.workflow_id")}""",
               (workflow_id,))
    return tx.one()


# The newest finished executions of a workflow on a target (at most %(scan)s), newest first: the cooldown reads the
# first, the failure streak counts from it (domain/guards.py failure_streak). Index executions_finished_on_target.
_RECENT_ON_TARGET = f"""
    SELECT id, execution_id::text AS execution_id, status, finished_at,
           status = 'failed' AND failure_streak_cleared_at IS NULL AS streak_failure
    FROM executions
    WHERE workflow_id = %(workflow_id)s AND {TARGET_KEY_SQL} = {TARGET_PARAMS_SQL} AND status IN {FINAL_SQL}
    ORDER BY finished_at DESC, id DESC LIMIT %(scan)s"""
_NEWEST_FIRST = "ORDER BY r.finished_at DESC, r.id DESC"
# Its executions on the target for the signal judged ineffective that finished within the chain's window, newest first
# (at most as many as the chain needs): the guard ineffective-chain. Index executions_ineffective_on_target (017).
_INEFFECTIVE_ON_TARGET = f"""
    SELECT id, execution_id::text AS execution_id, finished_at FROM executions
    WHERE workflow_id = %(workflow_id)s AND {TARGET_KEY_SQL} = {TARGET_PARAMS_SQL} AND effectiveness = '{INEFFECTIVE}'
      AND lower(incident ->> 'signal_type') = lower(%(signal_type)s)
      AND finished_at > now() - make_interval(secs => %(chain_seconds)s)
    ORDER BY finished_at DESC, id DESC LIMIT %(chain)s"""


def guard_facts(tx: UnitOfWork, workflow_id: str, target: Target, signal_type: str, settings: GuardSettings,
                exclude_execution_id: str | None = None) -> Row:
    """Everything the guard policy reads (chalicelib/domain/guards.py GuardFacts), in one statement at the
    transaction's time: the circuit, the newest finished executions on the target (as many as the failure streak
    needs), those on the target for ``signal_type`` judged ineffective within the chain's window (as many as the
    chain needs), the workflow's active executions and its requests of the last hour (each counted only up to its
    limit), and the execution holding the target. ``exclude_execution_id``: the execution being started after its
    approval, which is not one of the others."""
    tx.execute(
        f"""SELECT now() AS now, circuit.*, recent.*, ineffective.*,
                   (SELECT count(*) FROM (
                        SELECT 1 FROM executions
                        WHERE workflow_id = %(workflow_id)s AND status IN {ACTIVE_SQL} AND NOT {OVERDUE_SQL}
                          AND execution_id IS DISTINCT FROM %(exclude)s::uuid
                        LIMIT %(max_concurrent)s) counted) AS active,
                   (SELECT created_at FROM executions
                     WHERE workflow_id = %(workflow_id)s AND created_at > now() - interval '1 hour'
                       AND status NOT IN ('rejected', 'expired') AND NOT {OVERDUE_SQL}
                       AND execution_id IS DISTINCT FROM %(exclude)s::uuid
                     ORDER BY created_at DESC OFFSET %(per_hour)s - 1 LIMIT 1) AS hour_full_since,
                   (SELECT execution_id::text FROM executions
                     WHERE {TARGET_KEY_SQL} = {TARGET_PARAMS_SQL} AND status IN {ACTIVE_SQL} AND NOT {OVERDUE_SQL}
                       AND execution_id IS DISTINCT FROM %(exclude)s::uuid) AS target_holder
            FROM (SELECT %(workflow_id)s::text AS workflow_id) w {circuit_join("w.workflow_id")}
            CROSS JOIN LATERAL (
                SELECT (array_agg(r.execution_id {_NEWEST_FIRST}))[1] AS last_execution_id,
                       (array_agg(r.status {_NEWEST_FIRST}))[1] AS last_status,
                       max(r.finished_at) AS last_finished_at,
                       coalesce(array_agg(r.streak_failure {_NEWEST_FIRST}), '{{}}') AS streak_failures
                FROM ({_RECENT_ON_TARGET}) r) recent
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(r.execution_id {_NEWEST_FIRST}), '{{}}') AS ineffective_ids,
                       coalesce(array_agg(r.finished_at {_NEWEST_FIRST}), '{{}}') AS ineffective_finished
                FROM ({_INEFFECTIVE_ON_TARGET}) r) ineffective""",
        {"workflow_id": workflow_id, **target_params(target), "exclude": exclude_execution_id,
         "scan": settings.max_consecutive_failures, "max_concurrent": settings.max_concurrent,
         "per_hour": settings.max_executions_per_hour, "signal_type": signal_type,
         "chain": INEFFECTIVE_CHAIN, "chain_seconds": CHAIN_WINDOW.total_seconds()},
    )
    return tx.one()


def recent_on_target(tx: UnitOfWork, workflow_id: str, target: Target, scan: int) -> Sequence[Row]:
    """The newest finished executions of the workflow on the target (at most ``scan``), newest first, each with
    ``streak_failure``: failed, and not the end an operator's clear marked."""
    tx.execute(_RECENT_ON_TARGET, {"workflow_id": workflow_id, **target_params(target), "scan": scan})
    return tx.fetchall()


def mark_streak_end(tx: UnitOfWork, execution_id: str) -> None:
    """Marks a failed execution as the end of its failure streak (an operator's clear): it and every older one no
    longer count."""
    tx.execute("UPDATE executions SET failure_streak_cleared_at = now(), updated_at = now() WHERE execution_id = %s",
               (execution_id,))


def lock_breaker(tx: UnitOfWork, workflow_id: str) -> None:
    """Serialises the breaker's evaluations of one workflow until commit, so that of executions finishing together
    the later sees what the earlier committed: the breaker opens once, and never misses the failure that trips it.
    An advisory lock, not the workflow's row: a start holds that row while it may wait for this very transaction
    (one active execution per target), so taking it here could deadlock."""
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('circuit:' || %s, 0))", (workflow_id,))


def breaker_facts(tx: UnitOfWork, workflow_id: str) -> Row:
    """The circuit, and of the workflow's last BREAKER_WINDOW finished executions since the circuit last closed,
    how many finished and how many failed."""
    tx.execute(
        f"""SELECT circuit.*, counted.finished, counted.failed
            FROM (SELECT %(workflow_id)s::text AS workflow_id) w {circuit_join("w.workflow_id")}
            CROSS JOIN LATERAL (
                SELECT count(*) AS finished, count(*) FILTER (WHERE last.status = 'failed') AS failed
                FROM (SELECT e.status FROM executions e
                      WHERE e.workflow_id = w.workflow_id AND e.status IN {FINAL_SQL}
                        AND (circuit.circuit IS NULL OR e.finished_at > circuit.circuit_changed_at)
                      ORDER BY e.finished_at DESC, e.id DESC LIMIT %(window)s) last) counted""",
        {"workflow_id": workflow_id, "window": BREAKER_WINDOW},
    )
    return tx.one()
