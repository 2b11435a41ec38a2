"""Executions: the request models, the lifecycle rules, incident binding and the redaction of writeOnly parameters.

Redaction policy: a parameter the schema marks ``"writeOnly": true`` is replaced by ``REDACTED``
*before* the execution is stored, so the secret exists only in the PipelineRun handed back once (the
caller creates it in the cluster). The one exception is an execution waiting for approval: its
PipelineRun is built only when it is started, so the writeOnly values are held until then, sealed
with a key from configuration (never in clear), and deleted when the PipelineRun is released or the
execution is rejected or expires. Nothing re-runs an execution from the audit trail.

Lifecycle: ``awaiting_approval -> approved -> pending`` for workflows that require approval
(``rejected`` and ``expired`` end it), then ``pending -> running -> succeeded | failed``. The four
active states hold the execution's target: at most one active execution per target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contracts import DECISION, EXECUTION_REQUEST, EXECUTION_UPDATE, VALIDATE_REQUEST
from chalicelib.domain.errors import FieldError, InvalidTransition, ValidationFailed
from chalicelib.domain.labels import values_of
from chalicelib.domain.limits import INCIDENT_LABELS
from chalicelib.domain.storable import incident_error
from chalicelib.domain.versions import normalize_version

AWAITING_APPROVAL, APPROVED = "awaiting_approval", "approved"
PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
REJECTED, EXPIRED = "rejected", "expired"
EXECUTION_STATUSES = (AWAITING_APPROVAL, APPROVED, PENDING, RUNNING, SUCCEEDED, FAILED, REJECTED, EXPIRED)
# awaiting_approval -> approved -> pending (start); either waiting state may be rejected or expire;
# pending -> running -> succeeded | failed; pending -> failed (it never started); terminal states are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    AWAITING_APPROVAL: frozenset({APPROVED, REJECTED, EXPIRED}),
    APPROVED: frozenset({PENDING, REJECTED, EXPIRED}),
    PENDING: frozenset({RUNNING, FAILED}),
    RUNNING: frozenset({SUCCEEDED, FAILED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    REJECTED: frozenset(),
    EXPIRED: frozenset(),
}
TERMINAL = frozenset({SUCCEEDED, FAILED, REJECTED, EXPIRED})
ACTIVE = (AWAITING_APPROVAL, APPROVED, PENDING, RUNNING)  # these hold the target
WAITING = (AWAITING_APPROVAL, APPROVED)  # these expire after the approval window
_NEXT_STEP = {
    AWAITING_APPROVAL: "another API key with the executions:approve scope must approve it "
                       "(POST /api/v1/executions/{id}/approve) before it can start, or reject it",
    APPROVED: "start it (POST /api/v1/executions/{id}/start) or reject it",
}

REDACTED = "***"


@dataclass(frozen=True)
class Target:
    """The resource a remediation acts on; one active execution per (kind, namespace, name)."""

    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Target:
        """A target as requests carry it (already checked against the ``Target`` contract)."""
        return cls(body["kind"], body["name"], body.get("namespace"))

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class ExecutionRequest:
    """A well-formed execution request; its parameters are checked later, against the version's schema."""

    workflow_id: str
    version: str | None
    parameters: Mapping[str, Any]
    incident: dict[str, Any]
    target: Target
    dry_run: bool = False  # evaluate everything, write nothing (README, "Guardrails")

    @property
    def incident_id(self) -> str:
        return str(self.incident["id"])

    def incident_labels(self) -> list[tuple[str, str, str]]:
        """(path, key, value) of every label the incident carries: signal_type, severity, environment,
        component, priority and each business_context entry (each value of a list: all must match)."""
        found = [(f"$.incident.{key}", key, self.incident[key]) for key in INCIDENT_LABELS
                 if isinstance(self.incident.get(key), str)]
        for key, value in sorted(self.incident.get("business_context", {}).items()):
            for index, item in enumerate(values_of(value)):
                suffix = f"[{index}]" if isinstance(value, list) else ""
                found.append((f"$.incident.business_context.{key}{suffix}", key, item))
        return found


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
        bad = incident_error(incident)
        if bad:
            errors.append(bad)
    if errors:
        raise ValidationFailed(EXECUTION_REQUEST.detail, sorted(errors, key=lambda e: e.path))
    return ExecutionRequest(body["workflow_id"], version, dict(body.get("parameters", {})), dict(incident or {}),
                            Target.from_dict(body["target"]), dry_run=bool(body.get("dry_run", False)))


def parse_validate_request(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``parameters`` of a validate request (absent means none)."""
    VALIDATE_REQUEST.check(body)
    return dict(body.get("parameters", {}))


def parse_status_update(body: Mapping[str, Any]) -> StatusUpdate:
    EXECUTION_UPDATE.check(body)
    return StatusUpdate(body["status"], body.get("message"))


def parse_decision(body: Mapping[str, Any]) -> str:
    """The reason of an approve or reject request (kept in the execution's history)."""
    DECISION.check(body)
    return str(body["reason"]).strip()


def check_execution_transition(execution_id: str, current: str, target: str) -> None:
    if target in TRANSITIONS[current]:
        return
    if current in TERMINAL:
        raise InvalidTransition(f"Execution {execution_id} already {current}; a finished execution cannot change.")
    if current in WAITING:
        raise InvalidTransition(f"Execution {execution_id} is {current}; "
                                + _NEXT_STEP[current].replace("{id}", execution_id) + ".")
    raise InvalidTransition(
        f"Execution {execution_id} is {current}; it can only become {' or '.join(sorted(TRANSITIONS[current]))}."
    )


def approval_requirement(workflow_requires: bool, gated_steps: Sequence[Mapping[str, str]]) -> dict[str, Any] | None:
    """Why an execution must wait for approval: its workflow requires it, and/or (a composite) the workflows some of
    its steps resolve to do, each named ``{"step", "workflow_id"}``; None when nothing requires it. Every image that
    runs is covered, however it is wrapped."""
    if not workflow_requires and not gated_steps:
        return None
    return {"workflow": workflow_requires, "steps": [dict(step) for step in gated_steps]}


def uncovered_steps(requirement: Mapping[str, Any] | None, gated_now: Sequence[Mapping[str, str]]) -> list[str]:
    """The steps that require approval now but were not among those the execution's approval covered (its
    ``requirement`` as recorded at request; None: recorded before steps were named, so only the workflow's)."""
    covered = {(s["step"], s["workflow_id"]) for s in (requirement or {}).get("steps", [])}
    return [f"{s['step']} ({s['workflow_id']})" for s in gated_now if (s["step"], s["workflow_id"]) not in covered]


def write_only_names(schema: Mapping[str, Any]) -> frozenset[str]:
    properties = schema.get("properties", {})
    return frozenset(
        name for name, prop in properties.items() if isinstance(prop, Mapping) and prop.get("writeOnly") is True
    )


def redact(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values with every writeOnly parameter replaced by REDACTED (what may be stored, logged, returned)."""
    secret = write_only_names(schema)
    return {name: REDACTED if name in secret else value for name, value in values.items()}


def held_values(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The writeOnly values an execution waiting for approval must hold (sealed) until it starts."""
    secret = write_only_names(schema)
    return {name: value for name, value in values.items() if name in secret}


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
