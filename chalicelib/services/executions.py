"""Execution use cases: validate parameters, start an execution (audit row + PipelineRun), follow
its lifecycle, read the audit trail and per-version statistics.

Rules live in chalicelib/domain (executions, parameter_schema, pipeline_run); SQL in
chalicelib/stores/execution_store. Parameter values are never logged: only their names.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import InvalidTransition, NotFound, ValidationFailed
from chalicelib.domain.executions import (
    TERMINAL,
    ExecutionRequest,
    StatusUpdate,
    check_execution_transition,
    redact,
    redaction_marker_errors,
    write_only_names,
)
from chalicelib.domain.parameter_schema import validate_parameters
from chalicelib.domain.pipeline_run import build_pipeline_run, pipeline_run_name
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.workflows import ACTIVE, is_workflow_id
from chalicelib.observability import bind, logger
from chalicelib.services import composites
from chalicelib.stores import execution_store as store
from chalicelib.stores.db import Database
from chalicelib.stores.execution_store import NewExecution
from chalicelib.stores.rows import Row


@dataclass(frozen=True)
class ValidationReport:
    valid: bool
    errors: list[dict[str, str]]
    parameters: dict[str, Any]  # defaults applied, writeOnly values redacted
    redacted: list[str]


@dataclass(frozen=True)
class StartedExecution:
    execution: Row
    pipeline_run: dict[str, Any]


@dataclass(frozen=True)
class ExecutionPage:
    items: Sequence[Row]
    next_before: int | None


class ExecutionService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def validate(self, workflow_id: str, version: str, parameters: Mapping[str, Any]) -> ValidationReport:
        """Checks parameters against any version's schema (read-only; status does not matter here)."""
        version = _version_in_path(version)
        row = None
        if is_workflow_id(workflow_id):
            with self._db.reading() as tx:
                row = store.version_for_execution(tx, workflow_id, version)
        if row is None:
            raise NotFound(f"Workflow '{workflow_id}' has no version {version}.")
        schema = row["parameters"]
        errors, values = validate_parameters(schema, parameters)
        errors = sorted({*errors, *redaction_marker_errors(schema, values)}, key=lambda e: (e.path, e.message))
        return ValidationReport(
            valid=not errors,
            errors=[e.to_dict() for e in errors],
            parameters=redact(schema, values),
            redacted=sorted(write_only_names(schema) & set(values)),
        )

    def start(self, request: ExecutionRequest, actor: str) -> StartedExecution:
        """Validates and records a pending execution, in one transaction; returns its PipelineRun."""
        execution_id = str(uuid.uuid4())
        with self._db.transaction() as tx:
            workflow = store.share_workflow(tx, request.workflow_id)
            if workflow is None:
                raise NotFound(f"No workflow '{request.workflow_id}'.")
            row = _executable(request, workflow, store.version_for_execution(tx, request.workflow_id, request.version))
            schema = row["parameters"]
            errors, values = validate_parameters(schema, request.parameters)
            errors += redaction_marker_errors(schema, values)
            if errors:
                raise ValidationFailed(
                    "The parameters do not match the workflow's parameter schema; nothing was executed. See errors.",
                    sorted(set(errors), key=lambda e: (e.path, e.message)),
                )
            version = row["version"]
            composite = None
            if row["container_image"] is None:  # a composite: its steps resolve again now, into one PipelineRun
                composite = composites.plan_execution(
                    tx, execution_id=execution_id, workflow_id=request.workflow_id, version=version, schema=schema,
                    values=values, incident_id=request.incident_id)
                manifest = composite.pipeline_run
            else:
                manifest = build_pipeline_run(
                    execution_id=execution_id, workflow_id=request.workflow_id, version=version,
                    image=row["container_image"], schema=schema, values=values,
                    incident_id=request.incident_id,
                )
            stored = store.insert_execution(tx, NewExecution(
                execution_id=execution_id, workflow_id=request.workflow_id, version=version,
                container_image=row["container_image"], parameters=redact(schema, values),
                redacted_parameters=sorted(write_only_names(schema) & set(values)), incident=request.incident,
                incident_id=request.incident_id, pipeline_run_name=pipeline_run_name(request.workflow_id, execution_id),
                created_by=actor,
            ))
            store.insert_event(tx, execution_id, None, stored["status"], None, actor)
            if composite is not None:
                stored = composites.record_execution(tx, execution_id, composite)
        bind(execution_id=execution_id)
        logger.info("execution created", extra={
            "workflow_id": request.workflow_id, "version": version, "execution_id": execution_id,
            "incident_id": request.incident_id, "parameter_names": sorted(values),
        })
        return StartedExecution(stored, manifest)

    def update_status(self, execution_id: str, update: StatusUpdate, actor: str) -> Row:
        execution_id = _execution_id_in_path(execution_id)
        with self._db.transaction() as tx:
            current = store.lock_execution(tx, execution_id)
            if current is None:
                raise NotFound(f"No execution '{execution_id}'.")
            check_execution_transition(execution_id, current["status"], update.status)
            updated = store.set_status(tx, execution_id, update.status, update.message, update.status in TERMINAL)
            store.insert_event(tx, execution_id, current["status"], update.status, update.message, actor)
        logger.info("execution status changed", extra={
            "workflow_id": updated["workflow_id"], "version": updated["version"], "execution_id": execution_id,
            "from_status": current["status"], "status": update.status,
        })
        return updated

    def get(self, execution_id: str) -> tuple[Row, Sequence[Row]]:
        execution_id = _execution_id_in_path(execution_id)
        with self._db.reading() as tx:
            row = store.get_execution(tx, execution_id)
            if row is None:
                raise NotFound(f"No execution '{execution_id}'.")
            return row, store.events(tx, execution_id)

    def list_executions(
        self, workflow_id: str | None, version: str | None, status: str | None, limit: int, before_id: int | None
    ) -> ExecutionPage:
        with self._db.reading() as tx:
            rows = store.list_executions(tx, workflow_id, version, status, limit + 1, before_id)
        if len(rows) > limit:
            rows = rows[:limit]
            return ExecutionPage(rows, rows[-1]["id"])
        return ExecutionPage(rows, None)

    def stats(self, workflow_id: str) -> Sequence[Row]:
        rows: Sequence[Row] = []
        if is_workflow_id(workflow_id):
            with self._db.reading() as tx:
                rows = composites.with_step_runs(tx, workflow_id, store.version_stats(tx, workflow_id))
        if not rows:
            raise NotFound(f"No workflow '{workflow_id}'.")
        return rows


def _executable(request: ExecutionRequest, workflow: Row, row: Row | None) -> Row:
    """The version row to execute; disabled workflows and versions that are not active are refused (409),
    saying why."""
    if row is None:
        if request.version is not None:
            raise NotFound(f"Workflow '{request.workflow_id}' has no version {request.version}.")
        raise InvalidTransition(
            f"Workflow '{request.workflow_id}' has no active version, so there is no latest version to execute; "
            "activate a version or name one explicitly."
        )
    if not workflow["enabled"]:
        raise InvalidTransition(
            f"Workflow '{request.workflow_id}' is disabled and cannot be executed; enable it first "
            "(PATCH /api/v1/playbooks/{workflow_id} with enabled=true)."
        )
    if row["status"] != ACTIVE:
        raise InvalidTransition(
            f"Version {row['version']} of '{request.workflow_id}' is {row['status']}; only active versions can be "
            "executed (omit version to run the latest active one)."
        )
    return row


def _version_in_path(raw: str) -> str:
    try:
        return normalize_version(raw)
    except ValueError:
        raise NotFound(f"'{raw[:64]}' is not a semantic version, so no such version exists.") from None


def _execution_id_in_path(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise NotFound(f"No execution '{raw[:64]}'.") from None
