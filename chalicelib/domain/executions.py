"""Executions: the request models, the lifecycle rules and the redaction of writeOnly parameters.

Redaction policy: a parameter the schema marks ``"writeOnly": true`` is replaced by ``REDACTED``
*before* the execution is stored, so the secret exists only in the PipelineRun handed back once by
``POST /api/v1/executions`` (the caller creates it in the cluster). Nothing re-runs an execution
from the audit trail, so keeping the value (even encrypted) would add risk without a reader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contracts import EXECUTION_REQUEST, EXECUTION_UPDATE, VALIDATE_REQUEST
from chalicelib.domain.errors import FieldError, InvalidTransition, ValidationFailed
from chalicelib.domain.limits import MAX_INCIDENT_BYTES, MAX_INCIDENT_DEPTH
from chalicelib.domain.storable import first_unstorable
from chalicelib.domain.versions import normalize_version

PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
EXECUTION_STATUSES = (PENDING, RUNNING, SUCCEEDED, FAILED)
# pending -> running -> succeeded | failed; pending -> failed (it never started); terminal states are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({RUNNING, FAILED}),
    RUNNING: frozenset({SUCCEEDED, FAILED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
}
TERMINAL = frozenset({SUCCEEDED, FAILED})

REDACTED = "***"



@dataclass(frozen=True)
class ExecutionRequest:
    """A well-formed execution request; its parameters are checked later, against the version's schema."""

    workflow_id: str
    version: str | None
    parameters: Mapping[str, Any]
    incident: dict[str, Any]

    @property
    def incident_id(self) -> str:
        return str(self.incident["id"])


@dataclass(frozen=True)
class StatusUpdate:
    status: str
    message: str | None


def parse_execution_request(body: Mapping[str, Any]) -> ExecutionRequest:
    """An execution request checked against EXECUTION_REQUEST, the SemVer rules and the incident's size and
    depth limits; raises ValidationFailed listing every problem."""
    errors = EXECUTION_REQUEST.errors(body)
    failed = {e.path for e in errors}
    version = None
    if body.get("version") is not None and "$.version" not in failed:
        try:
            version = normalize_version(body["version"])
        except ValueError as exc:
            errors.append(FieldError("$.version", str(exc)))
    incident = body.get("incident")
    if isinstance(incident, Mapping):
        bad = first_unstorable(incident, "$.incident", MAX_INCIDENT_DEPTH)
        if bad:
            errors.append(bad)
        elif len(json.dumps(incident, separators=(",", ":"))) > MAX_INCIDENT_BYTES:
            errors.append(FieldError("$.incident", f"must be at most {MAX_INCIDENT_BYTES} bytes as JSON"))
    if errors:
        raise ValidationFailed(EXECUTION_REQUEST.detail, sorted(errors, key=lambda e: e.path))
    return ExecutionRequest(body["workflow_id"], version, dict(body.get("parameters", {})), dict(incident or {}))


def parse_validate_request(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``parameters`` of a validate request (absent means none)."""
    VALIDATE_REQUEST.check(body)
    return dict(body.get("parameters", {}))


def parse_status_update(body: Mapping[str, Any]) -> StatusUpdate:
    EXECUTION_UPDATE.check(body)
    return StatusUpdate(body["status"], body.get("message"))


def check_execution_transition(execution_id: str, current: str, target: str) -> None:
    if target in TRANSITIONS[current]:
        return
    if current in TERMINAL:
        raise InvalidTransition(f"Execution {execution_id} already {current}; a finished execution cannot change.")
    raise InvalidTransition(
        f"Execution {execution_id} is {current}; it can only become {' or '.join(sorted(TRANSITIONS[current]))}."
    )


def write_only_names(schema: Mapping[str, Any]) -> frozenset[str]:
    properties = schema.get("properties", {})
    return frozenset(
        name for name, prop in properties.items() if isinstance(prop, Mapping) and prop.get("writeOnly") is True
    )


def redact(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values with every writeOnly parameter replaced by REDACTED (what may be stored, logged, returned)."""
    secret = write_only_names(schema)
    return {name: REDACTED if name in secret else value for name, value in values.items()}


def redaction_marker_errors(schema: Mapping[str, Any], values: Mapping[str, Any]) -> list[FieldError]:
    """A writeOnly value equal to the marker is a redacted response fed back as input, not a secret."""
    return [
        FieldError(f"$.parameters.{name}", f"is the redaction marker {REDACTED!r}; send the real value")
        for name in sorted(write_only_names(schema)) if values.get(name) == REDACTED
    ]


def duration_seconds(started_at: Any, finished_at: Any) -> float | None:
    if started_at is None or finished_at is None:
        return None
    return (finished_at - started_at).total_seconds()
