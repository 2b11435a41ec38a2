"""SQL for the execution audit trail and its statistics. No decisions here: see services/executions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
from psycopg2.extras import Json

from chalicelib.domain.executions import ACTIVE, COUNTED_STATES, FINAL, WAITING, Target
from chalicelib.domain.guards import SETTING_NAMES
from chalicelib.domain.paging import Keyset, ints
from chalicelib.domain.rows import Row
from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.where import Where

# steps: what each step of a composite ran (migration 010); NULL for a single-image execution.
EXECUTION_COLUMNS = """
    e.id, e.execution_id::text AS execution_id, e.workflow_id, e.version, e.container_image, e.parameters,
    e.redacted_parameters, e.incident, e.incident_id, e.pipeline_run_name, e.status, e.message,
    e.created_by, e.created_at, e.started_at, e.finished_at, e.updated_at,
    e.target_kind, e.target_namespace, e.target_name, e.target_cluster, e.approval_required, e.approval_expires_at,
    e.approval_decided_by, e.approval_decided_at, e.approval_reason, e.approval_required_by,
    e.reason, e.pipeline_run_ref, e.claimed_by, e.claimed_at, e.lease_expires_at, e.lease_lapses,
    e.effectiveness, e.effectiveness_judged_at, e.effectiveness_window_ends_at, e.effectiveness_evidence,
    (SELECT jsonb_agg(jsonb_build_object('step', s.step, 'finally', s.is_finally, 'workflow_id', s.workflow_id,
                                         'version', s.version, 'container_image', s.container_image)
                      ORDER BY s.position)
     FROM execution_steps s WHERE s.execution_id = e.execution_id) AS steps
"""
# The states that hold a target: the predicate of the unique index executions_one_active_per_target
# (migrations 008, 016), which ON CONFLICT must repeat to use it (constants, never input).
ACTIVE_SQL = "(" + ", ".join(f"'{status}'" for status in ACTIVE) + ")"
# Executions that ran to an end (rejected and expired ones never ran): what a runner's report may end one with.
FINAL_SQL = "(" + ", ".join(f"'{status}'" for status in FINAL) + ")"
# A waiting execution past its approval deadline: it holds nothing, and any write expires it first
# (services/executions). Unqualified columns: for a statement reading executions alone (aliased or not).
WAITING_SQL = "(" + ", ".join(f"'{status}'" for status in WAITING) + ")"
OVERDUE_SQL = f"(status IN {WAITING_SQL} AND approval_expires_at <= now())"
TARGET_KEY_SQL = "(target_cluster, lower(target_kind), coalesce(target_namespace, ''), target_name)"
# A target's key from the named parameters of ``target_params``, to compare with TARGET_KEY_SQL.
TARGET_PARAMS_SQL = "(%(target_cluster)s, lower(%(target_kind)s), coalesce(%(target_namespace)s, ''), %(target_name)s)"
# What a runner of the cluster may claim besides what it holds: pending with no live lease, or running with a lapsed
# one (its runner stopped reporting). Executions recorded before migration 016 have no PipelineRun to hand out.
CLAIMABLE_SQL = """e.target_cluster = %(cluster)s AND e.pipeline_run IS NOT NULL
    AND (%(namespaces)s::text[] IS NULL OR e.target_namespace = ANY(%(namespaces)s::text[]))
    AND ((e.status = 'pending' AND (e.lease_expires_at IS NULL OR e.lease_expires_at <= now()))
         OR (e.status = 'running' AND e.lease_expires_at <= now()))"""


@dataclass(frozen=True)
class NewExecution:
    execution_id: str
    workflow_id: str
    version: str
    container_image: str | None  # None for a composite: its steps are in execution_steps
    parameters: dict[str, Any]  # already redacted
    redacted_parameters: list[str]
    incident: dict[str, Any]
    incident_id: str
    pipeline_run_name: str
    created_by: str
    target: Target
    status: str  # pending, or awaiting_approval
    approval_seconds: int | None  # the approval window when it waits for approval
    approval_required_by: dict[str, Any] | None = None  # what requires the approval (domain/executions.py)
    pipeline_run: dict[str, Any] | None = None  # what the runner creates; None while it waits for approval


# What a start reads of its workflow: the flags and the guard settings.
WORKFLOW_FOR_START = ", ".join(f"w.{column}" for column in ("workflow_id", "enabled", "approval_required",
                                                             *SETTING_NAMES))


def workflow_for_start(tx: UnitOfWork, workflow_id: str, lock: bool = True) -> Row | None:
    """The workflow, with its guard settings. ``lock``: held until commit with the lock every start of it takes
    (FOR NO KEY UPDATE), so starts of one workflow check its guards and insert one after the other (no two can
    both see room under a limit), and a concurrent disable, deprecation or rollback (which lock the row FOR UPDATE)
    cannot slip between the checks and the insert. Not FOR UPDATE: rows that merely reference the workflow (its
    history, its versions) may still be written meanwhile. A dry run reads without it."""
    tx.execute(f"SELECT {WORKFLOW_FOR_START} FROM workflows w WHERE w.workflow_id = %s"
               + (" FOR NO KEY UPDATE" if lock else ""), (workflow_id,))
    return tx.fetchone()


def lock_workflow_of(tx: UnitOfWork, execution_id: str) -> Row | None:
    """``workflow_for_start`` of an execution's workflow, locked. A start of an approved execution takes it before
    the execution's row lock, in the order every start takes its locks (a start may wait for a transaction that
    holds an execution of the target it inserts for: the other order could deadlock)."""
    tx.execute(f"""SELECT {WORKFLOW_FOR_START} FROM workflows w JOIN executions e USING (workflow_id)
                   WHERE e.execution_id = %s FOR NO KEY UPDATE OF w""", (execution_id,))
    return tx.fetchone()


def read_only(tx: UnitOfWork) -> None:
    """Makes the transaction read-only (the first statement of a dry run): any write would fail, not commit."""
    tx.execute("SET TRANSACTION READ ONLY")


def version_for_execution(tx: UnitOfWork, workflow_id: str, version: str | None) -> Row | None:
    """The named version, or the latest active one when ``version`` is None."""
    if version is None:
        tx.execute(
            """SELECT version, status, labels, container_image, parameters FROM latest_versions
               WHERE workflow_id = %s""",
            (workflow_id,),
        )
    else:
        tx.execute(
            """SELECT version, status, labels, container_image, parameters FROM workflow_versions
               WHERE workflow_id = %s AND version = %s""",
            (workflow_id, version),
        )
    return tx.fetchone()


def insert_execution(tx: UnitOfWork, new: NewExecution) -> Row | None:
    """Inserts the execution; None when its target already has an active execution (the unique index
    decides, so of concurrent requests for one target exactly one gets a row)."""
    tx.execute(
        f"""INSERT INTO executions AS e
               (execution_id, workflow_id, version, container_image, parameters, redacted_parameters,
                incident, incident_id, pipeline_run_name, status, created_by,
                target_kind, target_namespace, target_name, target_cluster, approval_required, approval_expires_at,
                approval_required_by, pipeline_run)
           VALUES (%(execution_id)s, %(workflow_id)s, %(version)s, %(image)s, %(parameters)s, %(redacted)s,
                   %(incident)s, %(incident_id)s, %(run_name)s, %(status)s, %(created_by)s,
                   %(kind)s, %(namespace)s, %(name)s, %(cluster)s, %(window)s IS NOT NULL,
                   now() + make_interval(secs => %(window)s), %(required_by)s, %(pipeline_run)s)
           ON CONFLICT {TARGET_KEY_SQL} WHERE status IN {ACTIVE_SQL} DO NOTHING
           RETURNING {EXECUTION_COLUMNS}""",
        {"execution_id": new.execution_id, "workflow_id": new.workflow_id, "version": new.version,
         "image": new.container_image, "parameters": Json(new.parameters), "redacted": new.redacted_parameters,
         "incident": Json(new.incident), "incident_id": new.incident_id, "run_name": new.pipeline_run_name,
         "status": new.status, "created_by": new.created_by, "kind": new.target.kind,
         "namespace": new.target.namespace, "name": new.target.name, "cluster": new.target.cluster,
         "window": new.approval_seconds,
         "required_by": None if new.approval_required_by is None else Json(new.approval_required_by),
         "pipeline_run": None if new.pipeline_run is None else Json(new.pipeline_run)},
    )
    return tx.fetchone()


def target_params(target: Target) -> dict[str, str | None]:
    """The named parameters of TARGET_PARAMS_SQL."""
    return {"target_cluster": target.cluster, "target_kind": target.kind, "target_namespace": target.namespace,
            "target_name": target.name}


def active_on_target(tx: UnitOfWork, target: Target) -> str | None:
    """The id of the execution holding ``target``, if any."""
    tx.execute(
        f"""SELECT execution_id::text AS execution_id FROM executions
            WHERE {TARGET_KEY_SQL} = {TARGET_PARAMS_SQL} AND status IN {ACTIVE_SQL}""",
        target_params(target),
    )
    row = tx.fetchone()
    return None if row is None else row["execution_id"]


def expire_overdue(
    tx: UnitOfWork, messages: dict[str, str], actor: str, execution_id: str | None = None,
    target: Target | None = None,
) -> Sequence[Row]:
    """Moves every waiting execution past its deadline (or only ``execution_id``, or only the one holding ``target``)
    to expired, with its event (``messages`` by the state it left) and without its held secrets, in one statement;
    returns what a notification of each names. Rows another transaction holds are skipped: that transaction acts
    on them itself."""
    only = "AND e.execution_id = %(execution_id)s" if execution_id is not None else ""
    if target is not None:
        only += f" AND {TARGET_KEY_SQL} = {TARGET_PARAMS_SQL}"
    tx.execute(
        f"""WITH due AS (
                SELECT e.execution_id, e.status FROM executions e
                WHERE {OVERDUE_SQL} {only}
                FOR UPDATE SKIP LOCKED),
            expired AS (
                UPDATE executions e SET status = 'expired', finished_at = now(), updated_at = now()
                FROM due WHERE e.execution_id = due.execution_id
                RETURNING e.execution_id, due.status AS from_status, e.workflow_id, e.version, e.incident_id,
                          e.target_kind, e.target_namespace, e.target_name, e.target_cluster),
            recorded AS (
                INSERT INTO execution_events (execution_id, from_status, to_status, message, changed_by)
                SELECT execution_id, from_status, 'expired',
                       CASE from_status WHEN 'awaiting_approval' THEN %(awaiting)s ELSE %(approved)s END, %(actor)s
                FROM expired),
            cleared AS (
                DELETE FROM execution_secrets s USING expired WHERE s.execution_id = expired.execution_id)
            SELECT execution_id::text AS execution_id, from_status, workflow_id, version, incident_id,
                   target_kind, target_namespace, target_name, target_cluster FROM expired""",
        {"execution_id": execution_id, "awaiting": messages["awaiting_approval"], "approved": messages["approved"],
         "actor": actor, **(target_params(target) if target is not None else {})},
    )
    return tx.fetchall()


def decide(tx: UnitOfWork, execution_id: str, status: str, actor: str, reason: str, window: int | None) -> Row:
    """Records an approval (``window``: seconds left to start it) or a rejection (terminal)."""
    tx.execute(
        f"""UPDATE executions AS e SET
                status = %(status)s,
                approval_decided_by = %(actor)s, approval_decided_at = now(), approval_reason = %(reason)s,
                approval_expires_at = coalesce(now() + make_interval(secs => %(window)s), e.approval_expires_at),
                finished_at = CASE WHEN %(status)s = 'rejected' THEN now() ELSE e.finished_at END,
                updated_at = now()
            WHERE e.execution_id = %(execution_id)s
            RETURNING {EXECUTION_COLUMNS}""",
        {"status": status, "actor": actor, "reason": reason, "window": window, "execution_id": execution_id},
    )
    return tx.one()


def insert_secret(tx: UnitOfWork, execution_id: str, sealed: bytes) -> None:
    tx.execute("INSERT INTO execution_secrets (execution_id, sealed) VALUES (%s, %s)",
               (execution_id, psycopg2.Binary(sealed)))


def get_secret(tx: UnitOfWork, execution_id: str) -> bytes | None:
    """The sealed values held for ``execution_id`` (kept: they are deleted once its runner reports it running)."""
    tx.execute("SELECT sealed FROM execution_secrets WHERE execution_id = %s", (execution_id,))
    row = tx.fetchone()
    return None if row is None else bytes(row["sealed"])


def delete_secret(tx: UnitOfWork, execution_id: str) -> None:
    tx.execute("DELETE FROM execution_secrets WHERE execution_id = %s", (execution_id,))


def insert_event(
    tx: UnitOfWork, execution_id: str, from_status: str | None, to_status: str, message: str | None, actor: str
) -> None:
    tx.execute(
        """INSERT INTO execution_events (execution_id, from_status, to_status, message, changed_by)
           VALUES (%s, %s, %s, %s, %s)""",
        (execution_id, from_status, to_status, message, actor),
    )


def lock_execution(tx: UnitOfWork, execution_id: str) -> Row | None:
    """The execution, locked until commit, with ``overdue``: waiting past its approval deadline."""
    tx.execute(
        f"""SELECT {EXECUTION_COLUMNS},
                   {OVERDUE_SQL} AS overdue
            FROM executions e WHERE e.execution_id = %s FOR UPDATE""",
        (execution_id,),
    )
    return tx.fetchone()


def release(tx: UnitOfWork, execution_id: str, manifest: dict[str, Any]) -> Row:
    """approved -> pending, with the PipelineRun its runner creates (an approved execution started)."""
    tx.execute(
        f"""UPDATE executions AS e SET status = 'pending', pipeline_run = %s, updated_at = now()
            WHERE e.execution_id = %s
            RETURNING {EXECUTION_COLUMNS}""",
        (Json(manifest), execution_id),
    )
    return tx.one()


def get_execution(tx: UnitOfWork, execution_id: str) -> Row | None:
    tx.execute(f"SELECT {EXECUTION_COLUMNS} FROM executions e WHERE e.execution_id = %s", (execution_id,))
    return tx.fetchone()


def events(tx: UnitOfWork, execution_id: str) -> Sequence[Row]:
    tx.execute(
        """SELECT from_status, to_status, message, changed_by, changed_at
           FROM execution_events WHERE execution_id = %s ORDER BY id""",
        (execution_id,),
    )
    return tx.fetchall()


# Executions, newest first: by id, descending (list_executions' order).
EXECUTIONS = Keyset(lambda row: [row["id"]], lambda p: ints(p, 1, (2**63,)))


def list_executions(
    tx: UnitOfWork,
    workflow_id: str | None,
    version: str | None,
    status: str | None,
    limit: int,
    after_id: int | None,
    namespaces: list[str] | None = None,
) -> Sequence[Row]:
    """Newest first by the row id (unique, so the order is total); keyset pagination on it (``after_id``: the last
    row's id of the previous page, so the page holds smaller ones). ``namespaces``: only
    executions whose target is in one of them (None: every execution)."""
    where = Where()
    for column, value in (("workflow_id", workflow_id), ("version", version), ("status", status)):
        where.add(f"e.{column} = %s", value, when=value is not None)
    where.add("e.target_namespace = ANY(%s::text[])", namespaces, when=namespaces is not None)
    where.add("e.id < %s", after_id, when=after_id is not None)
    tx.execute(
        f"""SELECT {EXECUTION_COLUMNS} FROM executions e
            WHERE {where.sql} ORDER BY e.id DESC LIMIT %s""",
        [*where.params, limit],
    )
    return tx.fetchall()


# What a set of executions came to (the statistics' columns; their rates: chalicelib/domain/effectiveness.py
# TrackRecord). Durations are finished_at - started_at as the runner reported them, of finished executions that
# started (one failed while pending has none).
_DURATION_SQL = "extract(epoch FROM e.finished_at - e.started_at)"
_OUTCOME_COLUMNS = f"""
    count(e.id) AS executions,
    count(e.id) FILTER (WHERE e.status = 'succeeded') AS succeeded,
    count(e.id) FILTER (WHERE e.status = 'failed') AS failed,
    count(e.id) FILTER (WHERE e.effectiveness = 'effective') AS effective,
    count(e.id) FILTER (WHERE e.effectiveness = 'ineffective') AS ineffective,
    count(e.id) FILTER (WHERE e.effectiveness = 'unknown') AS unknown,
    avg({_DURATION_SQL}) FILTER (WHERE e.finished_at IS NOT NULL AND e.started_at IS NOT NULL)::double precision
        AS mean_duration_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY {_DURATION_SQL})
        FILTER (WHERE e.finished_at IS NOT NULL AND e.started_at IS NOT NULL) AS median_duration_seconds"""


# The count in each other state (its values are identifiers: a column each).
_STATE_COLUMNS = ",\n".join(f"count(e.id) FILTER (WHERE e.status = '{status}') AS {status}"
                             for status in COUNTED_STATES)


def version_stats(tx: UnitOfWork, workflow_id: str) -> Sequence[Row]:
    """Per-version statistics of a workflow in one statement, newest SemVer first; no rows when the workflow does not
    exist: the count in each state and what the executions came to (_OUTCOME_COLUMNS)."""
    tx.execute(
        f"""SELECT v.version, v.status, {_STATE_COLUMNS},
                  {_OUTCOME_COLUMNS}
           FROM workflow_versions v
           LEFT JOIN executions e ON e.workflow_id = v.workflow_id AND e.version = v.version
           WHERE v.workflow_id = %s
           GROUP BY v.id
           ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.prerelease_key DESC, v.build DESC, v.id DESC""",
        (workflow_id,),
    )
    return tx.fetchall()


def signal_stats(tx: UnitOfWork, workflow_id: str) -> Sequence[Row]:
    """Per signal_type (compared case-insensitively, as labels; shown as its newest execution spells it), what the
    workflow's executions for it came to (_OUTCOME_COLUMNS), in one statement, ordered by signal."""
    tx.execute(
        f"""SELECT (array_agg(e.incident ->> 'signal_type' ORDER BY e.id DESC))[1] AS signal_type,
                   {_OUTCOME_COLUMNS}
            FROM executions e WHERE e.workflow_id = %s
            GROUP BY lower(e.incident ->> 'signal_type') ORDER BY lower(e.incident ->> 'signal_type')""",
        (workflow_id,),
    )
    return tx.fetchall()


# --- the runner: claims, leases, reports ------------------------------------------------------------------------

def claimable(tx: UnitOfWork, cluster: str, namespaces: list[str] | None) -> bool:
    """Whether the cluster has an execution a runner may newly claim (the long poll's one query per look)."""
    tx.execute(f"SELECT EXISTS (SELECT 1 FROM executions e WHERE {CLAIMABLE_SQL}) AS ready",
               {"cluster": cluster, "namespaces": namespaces})
    return bool(tx.one()["ready"])


def lapse_leases(tx: UnitOfWork, cluster: str | None, max_lapses: int, lost_reason: str, actor: str,
                 execution_id: str | None = None) -> Sequence[Row]:
    """Counts a lapse for every lease that ended with no report (of ``cluster``, None: every cluster; or only
    ``execution_id``), with its
    event, in one statement: the execution is claimable again or, at its ``max_lapses``-th lapse, failed with
    ``lost_reason`` (its held secrets deleted). Returns each row as it is now, with ``from_status``, ``runner_id``
    and ``lost``. Rows another transaction holds are skipped: that transaction is a claim or a report of them."""
    tx.execute(
        f"""WITH due AS (
                SELECT e.execution_id, e.status, e.claimed_by FROM executions e
                WHERE e.claimed_by IS NOT NULL AND e.lease_expires_at <= now()
                      AND (%(cluster)s::text IS NULL OR e.target_cluster = %(cluster)s)
                      AND (%(execution_id)s::uuid IS NULL OR e.execution_id = %(execution_id)s::uuid)
                FOR UPDATE SKIP LOCKED),
            lapsed AS (
                UPDATE executions e SET
                    lease_lapses = e.lease_lapses + 1, claimed_by = NULL, updated_at = now(),
                    status = CASE WHEN e.lease_lapses + 1 >= %(max)s THEN 'failed' ELSE e.status END,
                    reason = CASE WHEN e.lease_lapses + 1 >= %(max)s THEN %(lost)s ELSE e.reason END,
                    finished_at = CASE WHEN e.lease_lapses + 1 >= %(max)s THEN now() ELSE e.finished_at END
                FROM due WHERE e.execution_id = due.execution_id
                RETURNING {EXECUTION_COLUMNS}, due.status AS from_status, due.claimed_by AS runner_id,
                          e.lease_lapses >= %(max)s AS lost),
            recorded AS (
                INSERT INTO execution_events (execution_id, from_status, to_status, message, changed_by)
                SELECT execution_id::uuid, from_status, status,
                       CASE WHEN lost THEN %(lost)s || ': ' ELSE '' END
                       || format('the lease of runner %%s ended with no report (%%s of %%s)', runner_id, lease_lapses,
                                 %(max)s)
                       || CASE WHEN lost THEN '' ELSE '; claimable again' END,
                       %(actor)s
                FROM lapsed),
            cleared AS (
                DELETE FROM execution_secrets s USING lapsed
                WHERE s.execution_id = lapsed.execution_id::uuid AND lapsed.lost)
            SELECT * FROM lapsed""",
        {"cluster": cluster, "max": max_lapses, "lost": lost_reason, "actor": actor, "execution_id": execution_id},
    )
    return tx.fetchall()


def claim(tx: UnitOfWork, cluster: str, namespaces: list[str] | None, runner_id: str, max_items: int,
          held_limit: int, lease_seconds: int, max_lapses: int, actor: str) -> Sequence[Row]:
    """Leases to ``runner_id`` up to ``max_items`` claimable executions of ``cluster`` (oldest first; rows another
    transaction holds are skipped, so two runners never get one) and renews the pending ones whose live lease it
    holds already (``held``, at most ``held_limit``), in one statement, recording each new claim as an event. A lease
    that lapsed unseen is counted here (one at its last lapse is left to lapse_leases). Each row: execution_id,
    status, pipeline_run, lease_expires_at, held, the version's parameter schema and the execution's sealed values
    (None once delivered, or when it has none)."""
    tx.execute(
        f"""WITH fresh AS (
                SELECT e.execution_id, (e.claimed_by IS NOT NULL AND e.lease_expires_at <= now()) AS lapsed
                FROM executions e
                WHERE {CLAIMABLE_SQL}
                      AND e.lease_lapses + (e.claimed_by IS NOT NULL AND e.lease_expires_at <= now())::int < %(max)s
                ORDER BY e.id LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED),
            held AS (
                SELECT e.execution_id FROM executions e
                WHERE e.target_cluster = %(cluster)s AND e.status = 'pending' AND e.claimed_by = %(runner)s
                      AND e.lease_expires_at > now()
                ORDER BY e.id LIMIT %(held_limit)s
                FOR UPDATE SKIP LOCKED),
            chosen AS (
                SELECT execution_id, lapsed, false AS held FROM fresh
                UNION ALL SELECT execution_id, false, true FROM held),
            leased AS (
                UPDATE executions e SET
                    claimed_by = %(runner)s, claimed_at = now(), updated_at = now(),
                    lease_expires_at = now() + make_interval(secs => %(lease)s),
                    lease_lapses = e.lease_lapses + chosen.lapsed::int
                FROM chosen WHERE e.execution_id = chosen.execution_id
                RETURNING e.id, e.execution_id, e.status, e.workflow_id, e.version, e.pipeline_run, e.lease_expires_at,
                          e.lease_lapses, chosen.held, chosen.lapsed),
            recorded AS (
                INSERT INTO execution_events (execution_id, from_status, to_status, message, changed_by)
                SELECT execution_id, status, status,
                       format('claimed by runner %%s', %(runner)s)
                       || CASE WHEN lapsed THEN format(' after a lease that ended with no report (%%s of %%s)',
                                                       lease_lapses, %(max)s)
                               ELSE '' END,
                       %(actor)s
                FROM leased WHERE NOT held)
            SELECT l.execution_id::text AS execution_id, l.status, l.pipeline_run, l.lease_expires_at, l.held,
                   v.parameters AS schema, s.sealed
            FROM leased l
            JOIN workflow_versions v ON v.workflow_id = l.workflow_id AND v.version = l.version
            LEFT JOIN execution_secrets s ON s.execution_id = l.execution_id
            ORDER BY l.id""",
        {"cluster": cluster, "namespaces": namespaces, "runner": runner_id, "limit": max_items,
         "held_limit": held_limit, "lease": lease_seconds, "max": max_lapses, "actor": actor},
    )
    return tx.fetchall()


def record_report(tx: UnitOfWork, execution_id: str, status: str, message: str | None, reason: str | None,
                  pipeline_run: dict[str, Any] | None, started_at: Any, finished_at: Any, lease_seconds: int,
                  effectiveness_seconds: int) -> Row:
    """Records a runner's report: the status; message, reason and the PipelineRun when given; started_at (the
    report's, else the one recorded, else now for running) and, for a final status, finished_at (the report's, else
    now); the lease renewed (or ended, with the execution); a success's effectiveness window, ``effectiveness_seconds``
    from its finish. The caller holds the row lock."""
    tx.execute(
        f"""UPDATE executions AS e SET
                status = %(status)s,
                message = coalesce(%(message)s, e.message),
                reason = coalesce(%(reason)s, e.reason),
                pipeline_run_ref = coalesce(%(run)s, e.pipeline_run_ref),
                started_at = coalesce(%(started)s, e.started_at,
                                      CASE WHEN %(status)s = 'running' THEN now() END),
                finished_at = CASE WHEN %(status)s IN {FINAL_SQL} THEN coalesce(%(finished)s, now())
                                   ELSE e.finished_at END,
                effectiveness_window_ends_at = CASE WHEN %(status)s = 'succeeded'
                    THEN coalesce(%(finished)s, now()) + make_interval(secs => %(window)s) END,
                claimed_by = CASE WHEN %(status)s IN {FINAL_SQL} THEN NULL ELSE e.claimed_by END,
                lease_expires_at = CASE WHEN %(status)s IN {FINAL_SQL} OR e.claimed_by IS NULL
                                        THEN e.lease_expires_at
                                        ELSE now() + make_interval(secs => %(lease)s) END,
                updated_at = now()
            WHERE e.execution_id = %(execution_id)s
            RETURNING {EXECUTION_COLUMNS}""",
        {"status": status, "message": message, "reason": reason, "run": None if pipeline_run is None else
         Json(pipeline_run), "started": started_at, "finished": finished_at, "lease": lease_seconds,
         "window": effectiveness_seconds, "execution_id": execution_id},
    )
    return tx.one()
