"""Composite workflows in the catalog's use cases: check a new composite against what its steps resolve
to, give search the titles of its steps, and resolve its steps again for each execution.

The rules are in chalicelib/domain/composite.py (resolution, wiring) and
chalicelib/domain/composite_pipeline_run.py (the PipelineRun); the SQL in
chalicelib/stores/composite_store.py. Each function works inside the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.composite import (
    Composition,
    Resolved,
    StepMismatch,
    Unresolvable,
    plan_step,
    resolve,
    wiring_errors,
)
from chalicelib.domain.composite_pipeline_run import build_composite_pipeline_run
from chalicelib.domain.errors import FieldError, UnresolvableStep, ValidationFailed
from chalicelib.domain.executions import Target
from chalicelib.domain.rows import Row
from chalicelib.domain.workflows import NewVersion
from chalicelib.observability import logger
from chalicelib.stores import composite_store as store
from chalicelib.stores import execution_store
from chalicelib.stores.db import UnitOfWork


def check_new(tx: UnitOfWork, new: NewVersion) -> None:
    """Raises ValidationFailed listing every step of ``new`` that resolves to no runnable version, or whose
    parameters do not fit the version it resolves to (required ones missing, bad literals, types, writeOnly)."""
    assert new.composition is not None
    workflows = store.step_workflows(tx, [s.workflow_id for s in new.composition.all_steps], lock=False)
    errors: list[FieldError] = []
    for step in new.composition.all_steps:
        try:
            resolved = resolve(step, workflows[step.workflow_id], new.workflow_id)
        except Unresolvable as exc:
            errors.append(FieldError(f"{step.path}.{exc.field}", str(exc)))
            continue
        errors += wiring_errors(resolved, new.parameters)
    if errors:
        raise ValidationFailed("The composite's steps do not resolve to runnable versions, or do not fit the versions "
                               "they resolve to; see errors.", errors)


def step_titles(tx: UnitOfWork, workflow_id: str, composition: Composition) -> list[str]:
    """Titles of the versions the steps resolve to now (search indexes them with the composite's text)."""
    workflows = store.step_workflows(tx, [s.workflow_id for s in composition.all_steps], lock=False)
    titles = []
    for step in composition.all_steps:
        try:
            titles.append(resolve(step, workflows[step.workflow_id], workflow_id).title)
        except Unresolvable:
            continue  # the create that follows refuses it, with the reason
    return titles


@dataclass(frozen=True)
class CompositeRun:
    pipeline_run: dict[str, Any]
    steps: Sequence[Resolved]

    @property
    def gated_steps(self) -> list[dict[str, str]]:
        """The steps whose workflow requires approval (so the composite's execution does too): step and workflow."""
        return [{"step": r.step.name, "workflow_id": r.workflow_id} for r in self.steps if r.approval_required]


def plan_execution(tx: UnitOfWork, *, execution_id: str, workflow_id: str, version: str, schema: Mapping[str, Any],
                   values: Mapping[str, Any], incident_id: str, target: Target | None = None,
                   dry_run: bool = False) -> CompositeRun:
    """Resolves every step again now (share-locking the step workflows until commit) and builds the one
    PipelineRun. UnresolvableStep (409) names each step that no longer resolves or no longer fits its
    composite; ValidationFailed (400) lists the composite's values a step refuses. ``dry_run``: what a start
    would resolve, without the locks (and without logging it as an execution's)."""
    stored = store.composition_of(tx, workflow_id, version)
    assert stored is not None
    composition = Composition.from_content(stored)
    workflows = store.step_workflows(tx, [s.workflow_id for s in composition.all_steps], lock=not dry_run)
    planned, unresolvable, refused = [], [], []
    for step in composition.all_steps:
        try:
            resolved = resolve(step, workflows[step.workflow_id], workflow_id)
            step_plan, errors = plan_step(resolved, schema, values)
        except (Unresolvable, StepMismatch) as exc:
            unresolvable.append(FieldError(step.path, str(exc)))
            continue
        planned.append(step_plan)
        refused += errors
    if unresolvable:
        more = f" (and {len(unresolvable) - 1} more; see errors)" if len(unresolvable) > 1 else ""
        raise UnresolvableStep(f"{workflow_id} {version} cannot run now, nothing was executed: "
                               f"{unresolvable[0].message}{more}.", unresolvable)
    if refused:
        raise ValidationFailed("The parameters do not fit the composite's steps; nothing was executed. See errors.",
                               sorted(set(refused), key=lambda e: (e.path, e.message)))
    manifest = build_composite_pipeline_run(execution_id=execution_id, workflow_id=workflow_id, version=version,
                                            schema=schema, values=values, steps=planned, incident_id=incident_id,
                                            target=target)
    resolved_steps = [p.resolved for p in planned]
    if dry_run:
        return CompositeRun(manifest, resolved_steps)
    logger.info("composite steps resolved", extra={
        "workflow_id": workflow_id, "version": version, "execution_id": execution_id,
        "steps": [{"step": r.step.name, "workflow_id": r.workflow_id, "version": r.version} for r in resolved_steps],
    })
    return CompositeRun(manifest, resolved_steps)


def record_execution(tx: UnitOfWork, execution_id: str, run: CompositeRun) -> Row:
    """Records what each step resolved to; returns the execution as stored, steps included."""
    store.record_steps(tx, execution_id, run.steps)
    row = execution_store.get_execution(tx, execution_id)
    assert row is not None
    return row


def with_step_runs(tx: UnitOfWork, workflow_id: str, rows: Sequence[Row]) -> list[Row]:
    """Per-version statistics plus ``composite_runs``: composite executions that ran the version as a step."""
    runs = store.step_run_counts(tx, workflow_id)
    return [{**row, "composite_runs": runs.get(row["version"], 0)} for row in rows]
