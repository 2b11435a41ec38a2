"""SQL of effectiveness (migration 017_effectiveness.sql): the successes whose window has ended, their verdicts, the
track records search shows. No decisions here: chalicelib/domain/effectiveness.py decides, and
chalicelib/services/effectiveness.py judges."""

from __future__ import annotations

import json
from collections.abc import Sequence

from chalicelib.domain.rows import Row
from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.where import Where

# What the judgement reads of an execution.
_DUE_COLUMNS = """e.id, e.execution_id::text AS execution_id, e.workflow_id, e.version, e.incident, e.target_namespace,
                  e.started_at, e.finished_at, e.effectiveness_window_ends_at"""
# What a verdict adds to an execution's row (execution_store.EXECUTION_COLUMNS has them too).
VERDICT_COLUMNS = """e.execution_id::text AS execution_id, e.effectiveness, e.effectiveness_judged_at,
                     e.effectiveness_window_ends_at, e.effectiveness_evidence"""


def due(tx: UnitOfWork, limit: int, *, execution_ids: Sequence[str] | None = None, workflow_id: str | None = None,
        skip_locked: bool = False) -> Sequence[Row]:
    """Succeeded executions without a verdict whose window has ended (among ``execution_ids``, or of
    ``workflow_id``, or any), at most ``limit``, in id order, locked until commit. ``skip_locked`` (the maintenance
    round): rows another transaction holds are left to it; else (a read) waited for, in id order as every such
    read locks them, and then left out if that transaction gave them their verdict."""
    where = (Where("e.status = 'succeeded'", "e.effectiveness IS NULL", "e.effectiveness_window_ends_at <= now()")
             .add("e.execution_id = ANY(%s::uuid[])", list(execution_ids or ()), when=execution_ids is not None)
             .add("e.workflow_id = %s", workflow_id, when=workflow_id is not None))
    tx.execute(
        f"""SELECT {_DUE_COLUMNS} FROM executions e WHERE {where.sql}
            ORDER BY e.id LIMIT %s FOR UPDATE OF e{" SKIP LOCKED" if skip_locked else ""}""",
        [*where.params, limit],
    )
    return tx.fetchall()


def record_verdicts(tx: UnitOfWork, verdicts: Sequence[tuple[str, str, dict[str, object]]]) -> Sequence[Row]:
    """Records each (execution_id, verdict, evidence) of an execution locked by ``due``, in one statement (the track
    records follow: migration 017's triggers); a verdict given already is never replaced. The verdicts' columns."""
    tx.execute(
        f"""UPDATE executions AS e SET effectiveness = v.verdict, effectiveness_judged_at = now(),
                   effectiveness_evidence = v.evidence::jsonb, updated_at = now()
              FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS v(execution_id, verdict, evidence)
             WHERE e.execution_id = v.execution_id AND e.effectiveness IS NULL
            RETURNING {VERDICT_COLUMNS}""",
        ([execution_id for execution_id, _, _ in verdicts], [verdict for _, verdict, _ in verdicts],
         [json.dumps(evidence) for _, _, evidence in verdicts]),
    )
    return tx.fetchall()


def verdicts(tx: UnitOfWork, execution_ids: Sequence[str]) -> dict[str, Row]:
    """The verdict columns of these executions, by id (a read shows them as they are after its judging)."""
    tx.execute(f"SELECT {VERDICT_COLUMNS} FROM executions e WHERE e.execution_id = ANY(%s::uuid[])",
               (list(execution_ids),))
    return {row["execution_id"]: row for row in tx.fetchall()}


def track_records(tx: UnitOfWork, workflow_ids: Sequence[str], signal_type: str | None) -> dict[str, Row]:
    """The track record of each workflow: for ``signal_type`` (case-insensitive), or for every signal summed (None);
    workflows without executions have no row. One statement: a few counter rows per workflow."""
    tx.execute(
        """SELECT workflow_id, sum(executions) AS executions, sum(succeeded) AS succeeded, sum(failed) AS failed,
                  sum(effective) AS effective, sum(ineffective) AS ineffective, sum(unknown) AS unknown
             FROM track_records
            WHERE workflow_id = ANY(%(ids)s) AND (%(signal)s::text IS NULL OR signal_type = lower(%(signal)s))
            GROUP BY workflow_id""",
        {"ids": list(workflow_ids), "signal": signal_type},
    )
    return {row["workflow_id"]: row for row in tx.fetchall()}
