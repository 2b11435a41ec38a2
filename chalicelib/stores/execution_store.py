"""SQL for the execution audit trail and its statistics. No decisions here: see services/executions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg2.extras import Json

from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.rows import Row

# steps: what each step of a composite ran (migration 010); NULL for a single-image execution.
EXECUTION_COLUMNS = """
    e.id, e.execution_id::text AS execution_id, e.workflow_id, e.version, e.container_image, e.parameters,
    e.redacted_parameters, e.incident, e.incident_id, e.pipeline_run_name, e.status, e.message,
    e.created_by, e.created_at, e.started_at, e.finished_at, e.updated_at,
    (SELECT jsonb_agg(jsonb_build_object('step', s.step, 'finally', s.is_finally, 'workflow_id', s.workflow_id,
                                         'version', s.version, 'container_image', s.container_image)
                      ORDER BY s.position)
     FROM execution_steps s WHERE s.execution_id = e.execution_id) AS steps
"""


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


def share_workflow(tx: UnitOfWork, workflow_id: str) -> Row | None:
    """Reads the workflow and holds a share lock until commit, so a concurrent disable, deprecation
    or rollback (which lock the row FOR UPDATE) cannot slip between the check and the insert."""
    tx.execute("SELECT workflow_id, enabled FROM workflows WHERE workflow_id = %s FOR SHARE", (workflow_id,))
    return tx.fetchone()


def version_for_execution(tx: UnitOfWork, workflow_id: str, version: str | None) -> Row | None:
    """The named version, or the latest active one when ``version`` is None."""
    if version is None:
        tx.execute(
            "SELECT version, status, container_image, parameters FROM latest_versions WHERE workflow_id = %s",
            (workflow_id,),
        )
    else:
        tx.execute(
            """SELECT version, status, container_image, parameters FROM workflow_versions
               WHERE workflow_id = %s AND version = %s""",
            (workflow_id, version),
        )
    return tx.fetchone()


def insert_execution(tx: UnitOfWork, new: NewExecution) -> Row:
    tx.execute(
        f"""INSERT INTO executions AS e
               (execution_id, workflow_id, version, container_image, parameters, redacted_parameters,
                incident, incident_id, pipeline_run_name, status, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s)
           RETURNING {EXECUTION_COLUMNS}""",
        (new.execution_id, new.workflow_id, new.version, new.container_image, Json(new.parameters),
         new.redacted_parameters, Json(new.incident), new.incident_id, new.pipeline_run_name, new.created_by),
    )
    return tx.one()


def insert_event(
    tx: UnitOfWork, execution_id: str, from_status: str | None, to_status: str, message: str | None, actor: str
) -> None:
    tx.execute(
        """INSERT INTO execution_events (execution_id, from_status, to_status, message, changed_by)
           VALUES (%s, %s, %s, %s, %s)""",
        (execution_id, from_status, to_status, message, actor),
    )


def lock_execution(tx: UnitOfWork, execution_id: str) -> Row | None:
    tx.execute(f"SELECT {EXECUTION_COLUMNS} FROM executions e WHERE e.execution_id = %s FOR UPDATE", (execution_id,))
    return tx.fetchone()


def set_status(tx: UnitOfWork, execution_id: str, status: str, message: str | None, terminal: bool) -> Row:
    """Moves to ``status``: entering running sets started_at, a terminal status sets finished_at
    (both from the transaction's clock, the same instant as the event row)."""
    tx.execute(
        f"""UPDATE executions AS e SET
                status = %(status)s,
                message = coalesce(%(message)s, e.message),
                started_at = CASE WHEN %(status)s = 'running' THEN now() ELSE e.started_at END,
                finished_at = CASE WHEN %(terminal)s THEN now() ELSE e.finished_at END,
                updated_at = now()
            WHERE e.execution_id = %(execution_id)s
            RETURNING {EXECUTION_COLUMNS}""",
        {"status": status, "message": message, "terminal": terminal, "execution_id": execution_id},
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


def list_executions(
    tx: UnitOfWork,
    workflow_id: str | None,
    version: str | None,
    status: str | None,
    limit: int,
    before_id: int | None,
) -> Sequence[Row]:
    """Newest first by the row id (unique, so the order is total); keyset pagination on it."""
    conditions: list[str] = ["TRUE"]
    params: list[str | int] = []
    for column, value in (("workflow_id", workflow_id), ("version", version), ("status", status)):
        if value is not None:
            conditions.append(f"e.{column} = %s")
            params.append(value)
    if before_id is not None:
        conditions.append("e.id < %s")
        params.append(before_id)
    tx.execute(
        f"""SELECT {EXECUTION_COLUMNS} FROM executions e
            WHERE {" AND ".join(conditions)} ORDER BY e.id DESC LIMIT %s""",
        [*params, limit],
    )
    return tx.fetchall()


def version_stats(tx: UnitOfWork, workflow_id: str) -> Sequence[Row]:
    """Per-version statistics of a workflow in one statement; no rows when the workflow does not exist.

    success_rate = succeeded / (succeeded + failed), NULL while nothing has finished.
    mean_duration_seconds = mean of finished_at - started_at over finished executions that started
    (an execution failed while pending has no duration), NULL when there are none.
    """
    tx.execute(
        """SELECT v.version, v.status,
                  count(e.id) AS executions,
                  count(e.id) FILTER (WHERE e.status = 'pending') AS pending,
                  count(e.id) FILTER (WHERE e.status = 'running') AS running,
                  count(e.id) FILTER (WHERE e.status = 'succeeded') AS succeeded,
                  count(e.id) FILTER (WHERE e.status = 'failed') AS failed,
                  count(e.id) FILTER (WHERE e.status = 'succeeded')::double precision
                      / nullif(count(e.id) FILTER (WHERE e.status IN ('succeeded', 'failed')), 0) AS success_rate,
                  avg(extract(epoch FROM e.finished_at - e.started_at))
                      FILTER (WHERE e.finished_at IS NOT NULL AND e.started_at IS NOT NULL)::double precision
                      AS mean_duration_seconds
           FROM workflow_versions v
           LEFT JOIN executions e ON e.workflow_id = v.workflow_id AND e.version = v.version
           WHERE v.workflow_id = %s
           GROUP BY v.id
           ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.prerelease_key DESC, v.build DESC, v.id DESC""",
        (workflow_id,),
    )
    return tx.fetchall()
