"""SQL for composite workflows: what their steps' workflows hold, and what each execution's steps ran.
No decisions here: see services/composites.py and domain/composite.py."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.composite import Candidate, Resolved, StepWorkflow
from chalicelib.domain.rows import Row
from chalicelib.stores.db import UnitOfWork


def step_workflows(tx: UnitOfWork, workflow_ids: Sequence[str], lock: bool) -> dict[str, StepWorkflow]:
    """Each named workflow with its active versions. ``lock`` holds a share lock on the workflows until
    commit (in one order), so a concurrent disable, deprecation or rollback, which lock them FOR UPDATE,
    cannot slip between resolving the steps and recording the execution."""
    ids = sorted(set(workflow_ids))
    tx.execute(f"SELECT workflow_id, enabled, approval_required FROM workflows WHERE workflow_id = ANY(%s) "
               f"ORDER BY workflow_id{' FOR SHARE' if lock else ''}", (ids,))
    found = {row["workflow_id"]: row for row in tx.fetchall()}
    tx.execute(
        """SELECT workflow_id, version, container_image, parameters, title FROM workflow_versions
           WHERE workflow_id = ANY(%s) AND status = 'active'""",
        (ids,),
    )
    active: dict[str, list[Candidate]] = {}
    for row in tx.fetchall():
        active.setdefault(row["workflow_id"], []).append(
            Candidate(row["version"], row["container_image"], row["parameters"], row["title"]))
    workflows = {}
    for workflow_id in ids:
        flags = found.get(workflow_id)
        workflows[workflow_id] = StepWorkflow(workflow_id, flags is not None, bool(flags and flags["enabled"]),
                                              active.get(workflow_id, []), bool(flags and flags["approval_required"]))
    return workflows


def composition_of(tx: UnitOfWork, workflow_id: str, version: str) -> Row | None:
    """The stored composition of a version ({"steps", "finally"}), or None for a single-image version."""
    tx.execute("SELECT composition FROM workflow_versions WHERE workflow_id = %s AND version = %s",
               (workflow_id, version))
    row = tx.fetchone()
    return None if row is None else row["composition"]


def record_steps(tx: UnitOfWork, execution_id: str, steps: Sequence[Resolved]) -> None:
    for position, resolved in enumerate(steps):
        tx.execute(
            """INSERT INTO execution_steps
                   (execution_id, position, step, is_finally, workflow_id, version, container_image)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (execution_id, position, resolved.step.name, resolved.step.is_finally, resolved.workflow_id,
             resolved.version, resolved.container_image),
        )


def step_run_counts(tx: UnitOfWork, workflow_id: str) -> dict[str, int]:
    """Per version of ``workflow_id``: how many composite executions ran it as a step."""
    tx.execute(
        """SELECT version, count(DISTINCT execution_id) AS runs FROM execution_steps
           WHERE workflow_id = %s GROUP BY version""",
        (workflow_id,),
    )
    return {row["version"]: row["runs"] for row in tx.fetchall()}
