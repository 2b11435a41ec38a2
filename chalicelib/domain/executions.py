"""Executions: the request models, the lifecycle rules, incident binding and the redaction of writeOnly parameters.

Redaction policy: a parameter the schema marks ``"writeOnly": true`` is replaced by ``REDACTED``
*before* the execution is stored, and its value never appears in the PipelineRun: the run's step
reads it from a Kubernetes Secret (``secretKeyRef``) that the runner of the target's cluster creates
from its claim. Until that runner reports ``running`` (or the execution ends, is rejected or expires)
the catalog holds the writeOnly values sealed with a key from configuration (never in clear), then
deletes them; the claim's Secret is the only answer that carries them. Nothing re-runs an execution
from the audit trail.

Lifecycle: ``awaiting_approval -> approved -> pending`` for workflows that require approval
(``rejected`` and ``expired`` end it), then ``pending -> running -> succeeded | failed`` as the
runner reports it (``pending -> succeeded | failed`` directly for a run that finished between two
looks). The four active states hold the execution's target: at most one active execution per
target (cluster, kind, namespace, name). A runner leases the ``pending`` executions it claims; a
lease that ends with no report makes the execution claimable again, and the ``MAX_LEASE_LAPSES``-th
fails it with the catalog's reason ``runner-lost``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.contracts import CLAIM_REQUEST, DECISION, EXECUTION_REQUEST, EXECUTION_UPDATE, VALIDATE_REQUEST
from chalicelib.domain.errors import FieldError, InvalidTransition, ValidationFailed
from chalicelib.domain.labels import values_of
from chalicelib.domain.limits import DEFAULT_CLUSTER, INCIDENT_LABELS, MAX_REPORT_CLOCK_SKEW_SECONDS
from chalicelib.domain.storable import incident_error
from chalicelib.domain.timestamps import parse_rfc3339
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.vocabularies import ExecutionReason, ExecutionStatus

AWAITING_APPROVAL, APPROVED, PENDING, RUNNING, SUCCEEDED, FAILED, REJECTED, EXPIRED = ExecutionStatus
EXECUTION_STATUSES = tuple(ExecutionStatus)
# The states the statistics count one by one besides the outcomes (succeeded and failed are counted with what the
# executions came to: domain/effectiveness.py TrackRecord).
COUNTED_STATES = tuple(status for status in ExecutionStatus if status not in (SUCCEEDED, FAILED))
# awaiting_approval -> approved -> pending (start); either waiting state may be rejected or expire;
# pending -> running -> succeeded | failed; pending -> succeeded | failed (a run that finished between two looks of
# its runner, or never started); terminal states are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    AWAITING_APPROVAL: frozenset({APPROVED, REJECTED, EXPIRED}),
    APPROVED: frozenset({PENDING, REJECTED, EXPIRED}),
    PENDING: frozenset({RUNNING, SUCCEEDED, FAILED}),
    RUNNING: frozenset({SUCCEEDED, FAILED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    REJECTED: frozenset(),
    EXPIRED: frozenset(),
}
TERMINAL = frozenset({SUCCEEDED, FAILED, REJECTED, EXPIRED})
ACTIVE = (AWAITING_APPROVAL, APPROVED, PENDING, RUNNING)  # these hold the target
WAITING = (AWAITING_APPROVAL, APPROVED)  # these expire after the approval window
RUNNABLE = (PENDING, RUNNING)  # what a runner claims (pending, or running with a lapsed lease) and reports on
FINAL = (SUCCEEDED, FAILED)  # what a runner's report may end an execution with

# Reasons the catalog itself gives an execution (a runner reports Tekton's, e.g. PipelineRunTimeout). They are
# lowercase words joined by '-', a form a runner's reason may not take, so a report can never pass for the catalog.
RUNNER_LOST = ExecutionReason.RUNNER_LOST  # its leases lapsed MAX_LEASE_LAPSES times with no report
EXECUTION_REASONS = tuple(ExecutionReason)
_CATALOG_REASON_FORM = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")
_NEXT_STEP: dict[str, str] = {
    AWAITING_APPROVAL: "another API key with the executions:approve scope must approve it "
                       "(POST /api/v1/executions/{id}/approve) before it can start, or reject it",
    APPROVED: "start it (POST /api/v1/executions/{id}/start) or reject it",
}

REDACTED = "***"


@dataclass(frozen=True)
class Target:
    """The resource a remediation acts on, in its cluster; one active execution per (cluster, kind, namespace,
    name). The cluster's runner runs the execution."""

    kind: str
    name: str
    namespace: str | None = None
    cluster: str = DEFAULT_CLUSTER

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Target:
        """A target as requests carry it (already checked against the ``Target`` contract)."""
        return cls(body["kind"], body["name"], body.get("namespace"), body.get("cluster", DEFAULT_CLUSTER))

    def __str__(self) -> str:
        where = f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"
        return where if self.cluster == DEFAULT_CLUSTER else f"{where} in cluster {self.cluster}"


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

    @property
    def signal_type(self) -> str:
        return str(self.incident["signal_type"])

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
    """A runner's report on an execution: its status, and what the runner saw of the PipelineRun."""

    status: str
    message: str | None
    reason: str | None = None
    pipeline_run: dict[str, str] | None = None  # {namespace, name, uid} of the PipelineRun that runs it
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class ClaimRequest:
    runner_id: str
    max_items: int
    wait_seconds: int


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


def parse_status_update(body: Mapping[str, Any], now: datetime) -> StatusUpdate:
    """A runner's report checked against EXECUTION_UPDATE and the rules of its times and reason: RFC 3339 times with
    a zone, none more than MAX_REPORT_CLOCK_SKEW_SECONDS ahead of ``now`` (the catalog's clock), the finish not
    before the start, and no reason in the form of the catalog's own (EXECUTION_REASONS)."""
    errors = EXECUTION_UPDATE.errors(body)
    failed = {e.path for e in errors}
    times: dict[str, datetime | None] = {"started_at": None, "finished_at": None}
    for name in times:
        if not isinstance(body.get(name), str) or f"$.{name}" in failed:
            continue
        try:
            moment = parse_rfc3339(body[name])
        except ValueError:
            errors.append(FieldError(f"$.{name}", "must be an RFC 3339 date-time with a zone, e.g. "
                                                  "2026-03-01T10:00:00Z"))
            continue
        if moment > now + timedelta(seconds=MAX_REPORT_CLOCK_SKEW_SECONDS):
            errors.append(FieldError(f"$.{name}", f"is in the future (more than {MAX_REPORT_CLOCK_SKEW_SECONDS} s "
                                                  "ahead of the catalog's clock)"))
        times[name] = moment
    started, finished = times["started_at"], times["finished_at"]
    if started is not None and finished is not None and finished < started:
        errors.append(FieldError("$.finished_at", "is before started_at"))
    reason = body.get("reason")
    if isinstance(reason, str) and _CATALOG_REASON_FORM.fullmatch(reason):
        errors.append(FieldError("$.reason", "lowercase words joined by '-' are the catalog's own reasons (e.g. "
                                             f"{RUNNER_LOST}); report the PipelineRun's reason (e.g. "
                                             "PipelineRunTimeout)"))
    if errors:
        raise ValidationFailed(EXECUTION_UPDATE.detail, sorted(errors, key=lambda e: e.path))
    run = body.get("pipeline_run")
    return StatusUpdate(body["status"], body.get("message"), reason, dict(run) if run is not None else None,
                        started, finished)


def check_report_times(update: StatusUpdate, stored_started_at: datetime | None) -> None:
    """A finish reported without its start must not be before the start already recorded (ValidationFailed)."""
    if update.finished_at is not None and update.started_at is None and stored_started_at is not None \
            and update.finished_at < stored_started_at:
        raise ValidationFailed(EXECUTION_UPDATE.detail, [FieldError(
            "$.finished_at", f"is before the execution's recorded start ({stored_started_at.isoformat()})")])


def parse_claim_request(body: Mapping[str, Any]) -> ClaimRequest:
    CLAIM_REQUEST.check(body)
    return ClaimRequest(body["runner_id"], body.get("max", 1), body.get("wait_seconds", 0))


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
    """The writeOnly values an execution holds (sealed) until its runner reports it running: they reach the run only
    through the claim's Secret."""
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
