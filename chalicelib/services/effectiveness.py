"""Judging effectiveness (README, "Effectiveness"): the successes whose window has ended get their verdict, once.

The rule is chalicelib/domain/effectiveness.py's; the SQL is chalicelib/stores/effectiveness_store.py's and
alert_store.episodes_for's. ``judge_due`` runs in its caller's transaction: the maintenance round
(``EffectivenessService.judge_due``) and every read that shows a verdict (one execution, a list, the stats) call it,
so a verdict is there as soon as its window has ended, whoever looks first. A verdict is written only where none is
(the execution's row is locked while it is judged), so it is given once and never recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.effectiveness import AlertBinding, SeenEpisode, Window, judge
from chalicelib.domain.executions import SUCCEEDED
from chalicelib.domain.rows import Row
from chalicelib.observability import logger
from chalicelib.stores import alert_store
from chalicelib.stores import effectiveness_store as store
from chalicelib.stores.alert_store import Lookup
from chalicelib.stores.db import Database, UnitOfWork

JUDGE_BATCH = 100  # executions judged per statement group
MAX_ROUND_BATCHES = 20  # a maintenance round judges at most this many batches (the next round goes on)
MAX_READ_BATCHES = 10  # the stats of a workflow judge at most this many (the maintenance round keeps up)


def judge_due(tx: UnitOfWork, *, execution_ids: Sequence[str] | None = None, workflow_id: str | None = None,
              skip_locked: bool = False) -> Sequence[Row]:
    """Gives their verdict to the due executions (succeeded, window ended, no verdict yet) among ``execution_ids``,
    or of ``workflow_id``, or any, at most JUDGE_BATCH, in the caller's transaction; the verdicts recorded (their
    columns). Three statements whatever the batch's size: the due rows, every alert episode they read, the
    verdicts."""
    due = store.due(tx, JUDGE_BATCH, execution_ids=execution_ids, workflow_id=workflow_id, skip_locked=skip_locked)
    if not due:
        return []
    bindings = [AlertBinding.of(row["incident"], row["target_namespace"]) for row in due]
    windows = [Window.of(row["started_at"], row["finished_at"], row["effectiveness_window_ends_at"]) for row in due]
    seen = alert_store.episodes_for(tx, [Lookup(binding, window.since, window.ends_at)
                                         for binding, window in zip(bindings, windows, strict=True)])
    judgements = [judge(binding, window, [_episode(row) for row in rows])
                  for binding, window, rows in zip(bindings, windows, seen, strict=True)]
    recorded = store.record_verdicts(tx, [(row["execution_id"], judgement.verdict, judgement.evidence)
                                          for row, judgement in zip(due, judgements, strict=True)])
    for row, judgement in zip(due, judgements, strict=True):
        logger.info("execution judged", extra={
            "execution_id": row["execution_id"], "workflow_id": row["workflow_id"], "version": row["version"],
            "verdict": judgement.verdict, "alerts": judgement.evidence["alerts"],
            "episodes": judgement.evidence["episodes_counted"], "window_ends_at": judgement.evidence["window_ends_at"],
        })
    return recorded


def with_verdicts(tx: UnitOfWork, rows: Sequence[Row]) -> list[Row]:
    """``rows`` (executions, as execution_store reads them) with the verdicts due among them given now, or given
    meanwhile by another transaction; the rest unchanged."""
    waiting = [row["execution_id"] for row in rows if row["status"] == SUCCEEDED and row["effectiveness"] is None]
    if not waiting:
        return list(rows)
    judge_due(tx, execution_ids=waiting)
    now = store.verdicts(tx, waiting)
    return [{**row, **now[row["execution_id"]]} if row["execution_id"] in now else row for row in rows]


def judge_workflow(tx: UnitOfWork, workflow_id: str) -> int:
    """Judges the workflow's due executions (at most MAX_READ_BATCHES batches), before its statistics are read."""
    judged = 0
    for _ in range(MAX_READ_BATCHES):
        batch = judge_due(tx, workflow_id=workflow_id)
        judged += len(batch)
        if len(batch) < JUDGE_BATCH:
            break
    return judged


def _episode(row: Mapping[str, Any]) -> SeenEpisode:
    return SeenEpisode(row["fingerprint"], row["alertname"], row["namespace"], row["starts_at"], row["status"],
                       row["ends_at"])


class EffectivenessService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def judge_due(self) -> int:
        """The maintenance round's part: every due execution judged, a batch per transaction (rows a read is judging
        are left to it), at most MAX_ROUND_BATCHES batches; returns how many."""
        judged = 0
        for _ in range(MAX_ROUND_BATCHES):
            with self._db.transaction() as tx:
                batch = judge_due(tx, skip_locked=True)
            judged += len(batch)
            if len(batch) < JUDGE_BATCH:
                break
        return judged
