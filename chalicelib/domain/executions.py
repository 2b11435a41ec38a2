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

from chalicelib.domain.errors import ErrorCollector, FieldError, InvalidTransition
from chalicelib.domain.labels import validate_labels
from chalicelib.domain.storable import first_unstorable, unrepresentable
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.workflows import parse_workflow_id

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
MAX_INCIDENT_BYTES = 32 * 1024
MAX_INCIDENT_DEPTH = 8
MAX_INCIDENT_ID = 256
MAX_SIGNAL_TYPE = 128
MAX_MESSAGE = 4000

EXECUTION_FIELDS = frozenset({"workflow_id", "version", "parameters", "incident"})
VALIDATE_FIELDS = frozenset({"parameters"})
UPDATE_FIELDS = frozenset({"status", "message"})


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
    problems = ErrorCollector()
    _unknown_fields(body, EXECUTION_FIELDS, problems)
    workflow_id = parse_workflow_id(body.get("workflow_id"), problems)
    version = None
    if body.get("version") is not None:
        try:
            version = normalize_version(body["version"])
        except ValueError as exc:
            problems.add("$.version", str(exc))
    parameters = parse_parameters_field(body, problems)
    incident = parse_incident(body.get("incident"), problems)
    problems.raise_if_any("The execution request is not valid; see errors.")
    return ExecutionRequest(workflow_id, version, parameters, incident)


def parse_validate_request(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``parameters`` of a validate request (absent means none)."""
    problems = ErrorCollector()
    _unknown_fields(body, VALIDATE_FIELDS, problems)
    parameters = parse_parameters_field(body, problems)
    problems.raise_if_any("The request is not valid; see errors.")
    return parameters


def parse_parameters_field(body: Mapping[str, Any], problems: ErrorCollector) -> Mapping[str, Any]:
    parameters = body.get("parameters", {})
    if not isinstance(parameters, Mapping):
        problems.add("$.parameters", "must be an object of parameter name -> value")
        return {}
    return parameters


def parse_incident(incident: object, problems: ErrorCollector) -> dict[str, Any]:
    """The incident context ({} once its problems are recorded): ``id`` and ``signal_type`` required,
    ``business_context`` shaped like labels, anything else free-form JSON within size and depth limits."""
    if not isinstance(incident, Mapping):
        problems.add("$.incident", "is required: an object with at least id and signal_type")
        return {}
    errors: list[FieldError] = []
    for key, limit in (("id", MAX_INCIDENT_ID), ("signal_type", MAX_SIGNAL_TYPE)):
        value = incident.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append(FieldError(f"$.incident.{key}", "is required and must be a non-empty string"))
        elif len(value) > limit:
            errors.append(FieldError(f"$.incident.{key}", f"must be at most {limit} characters"))
    if "business_context" in incident:
        errors.extend(validate_labels(incident["business_context"], "$.incident.business_context", required=False))
    bad = first_unstorable(incident, "$.incident", MAX_INCIDENT_DEPTH)
    if bad:
        errors.append(bad)
    elif len(json.dumps(incident, separators=(",", ":"))) > MAX_INCIDENT_BYTES:
        errors.append(FieldError("$.incident", f"must be at most {MAX_INCIDENT_BYTES} bytes as JSON"))
    problems.extend(errors)
    return {} if errors else dict(incident)


def parse_status_update(body: Mapping[str, Any]) -> StatusUpdate:
    problems = ErrorCollector()
    _unknown_fields(body, UPDATE_FIELDS, problems)
    status = body.get("status")
    if not isinstance(status, str) or status not in (RUNNING, SUCCEEDED, FAILED):
        problems.add("$.status", "must be \"running\", \"succeeded\" or \"failed\"")
        status = ""
    message = body.get("message")
    if message is not None:
        if not isinstance(message, str) or unrepresentable(message):
            problems.add("$.message", "must be a string without NUL characters")
        elif len(message) > MAX_MESSAGE:
            problems.add("$.message", f"must be at most {MAX_MESSAGE} characters")
    problems.raise_if_any("The status update is not valid; see errors.")
    return StatusUpdate(status, message)


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


def _unknown_fields(body: Mapping[str, Any], allowed: frozenset[str], problems: ErrorCollector) -> None:
    for key in sorted(set(body) - allowed):
        problems.add(f"$.{key[:64]}", f"unknown field; allowed: {', '.join(sorted(allowed))}")
