"""Every closed vocabulary of the catalog, each one enum, defined here once.

Statuses, reasons, kinds and types that are stored, validated or documented are listed here; the
request contracts (domain/contracts.py), the response schemas (http/schemas.py), the OpenAPI
descriptions and the stores take their values from these enums, and the SQL ``CHECK`` constraints
of the migrations list the same values: tests/integration/test_vocabularies.py reads every CHECK
from the migrated database's catalog and holds it to its enum here. A new status or reason is a
member added here (and, when a column stores it, a migration that widens the CHECK).

The members are ``StrEnum``s: each is its value as a ``str`` (JSON, SQL parameters and comparisons
see plain text). This module imports nothing of the catalog, so every other module may import it.
"""

from __future__ import annotations

from enum import StrEnum


class WorkflowStatus(StrEnum):
    """A version's lifecycle (domain/workflows.py TRANSITIONS): draft -> active -> deprecated."""

    DRAFT = "draft"
    ACTIVE = "active"
    DEPRECATED = "deprecated"


class ExecutionStatus(StrEnum):
    """An execution's lifecycle (domain/executions.py TRANSITIONS), in the order it moves."""

    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ExecutionReason(StrEnum):
    """Reasons the catalog itself gives an execution (a runner reports Tekton's, e.g. PipelineRunTimeout): lowercase
    words joined by '-', a form a runner's reason may not take (domain/executions.py)."""

    RUNNER_LOST = "runner-lost"  # its leases lapsed MAX_LEASE_LAPSES times with no report


class RecommendationStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ResourceEventType(StrEnum):
    """The watch events of a RemediationWorkflow the watcher forwards."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


class RegistrationReason(StrEnum):
    """Why a registration failed, as the resource's Ready condition says it (Kubernetes condition reasons are
    CamelCase). ``error_title`` is the registration error's title; ``note`` what the OpenAPI description adds."""

    IMAGE_PULL_FAILED = "ImagePullFailed"
    IMAGE_TOO_LARGE = "ImageTooLarge"
    IMAGE_INVALID = "ImageInvalid"
    # The registry, a redirect or a token realm points where the egress rule forbids (chalicelib/domain/egress.py).
    REGISTRY_NOT_ALLOWED = "RegistryNotAllowed"
    SCHEMA_MISSING = "SchemaMissing"
    SCHEMA_INVALID = "SchemaInvalid"
    CONTENT_CONFLICT = "ContentConflict"
    SIGNATURE_MISSING = "SignatureMissing"
    SIGNATURE_INVALID = "SignatureInvalid"
    COMPOSITION_INVALID = "CompositionInvalid"
    # The problem workflow-owned-elsewhere (domain/errors.py WorkflowOwnedElsewhere) as a reason.
    WORKFLOW_OWNED_ELSEWHERE = "WorkflowOwnedElsewhere"
    INTERNAL_ERROR = "InternalError"

    @property
    def error_title(self) -> str:
        return _REGISTRATION_TITLES[self]

    @property
    def note(self) -> str | None:
        return _REGISTRATION_NOTES.get(self)


SCHEMA_PATH = "/playbook-schema.json"  # the file a workflow image carries (docs/playbook-schema.md)
_REGISTRATION_TITLES = {
    RegistrationReason.IMAGE_PULL_FAILED: "The image could not be pulled",
    RegistrationReason.IMAGE_TOO_LARGE: "The image exceeds a download limit",
    RegistrationReason.IMAGE_INVALID: "The image is malformed",
    RegistrationReason.REGISTRY_NOT_ALLOWED: "The registry or a destination it points to is not allowed",
    RegistrationReason.SCHEMA_MISSING: f"The image has no {SCHEMA_PATH}",
    RegistrationReason.SCHEMA_INVALID: f"{SCHEMA_PATH} is not valid",
    RegistrationReason.CONTENT_CONFLICT: "This version exists with other content",
    RegistrationReason.WORKFLOW_OWNED_ELSEWHERE: "The workflow is owned by another cluster, namespace or the API",
    RegistrationReason.COMPOSITION_INVALID: "The composite workflow's steps are not valid",
    RegistrationReason.INTERNAL_ERROR: "The registration failed unexpectedly",
    RegistrationReason.SIGNATURE_MISSING: "The image is not signed",
    RegistrationReason.SIGNATURE_INVALID: "The image has no valid signature by a trusted key",
}
_REGISTRATION_NOTES = {
    RegistrationReason.COMPOSITION_INVALID: "a composite's steps",
    RegistrationReason.WORKFLOW_OWNED_ELSEWHERE: "the problem workflow-owned-elsewhere: the workflow belongs to "
                                                 "another cluster, namespace or the API; the detail names its owner",
}


class SignatureMode(StrEnum):
    """What a signature policy rule does with an image (domain/signature_policy.py)."""

    OFF = "off"
    WARN = "warn"
    ENFORCE = "enforce"


class OwnerKind(StrEnum):
    """Who owns a workflow (domain/ownership.py)."""

    RESOURCE = "resource"  # the origin (cluster, namespace) of the RemediationWorkflow that first registered it
    API = "api"  # created over REST


class FinallyWhen(StrEnum):
    """When a composite's finally step runs (domain/composite.py)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ALWAYS = "always"


class CircuitState(StrEnum):
    """A workflow's circuit breaker (domain/guards.py)."""

    CLOSED = "closed"
    OPEN = "open"


class DryRunOutcome(StrEnum):
    """What a dry run of a start answers (POST /api/v1/executions with dry_run)."""

    WOULD_RUN = "would-run"
    WOULD_AWAIT_APPROVAL = "would-await-approval"
    BLOCKED = "blocked"


class GuardVerdict(StrEnum):
    """A guard's verdict in a dry run."""

    PASSED = "passed"
    BLOCKED = "blocked"


class GuardSetting(StrEnum):
    """A workflow's guard settings (their bounds: domain/limits.py GUARD_SETTING_BOUNDS). The guards themselves are
    their problems (domain/errors.py GUARD_REFUSALS: each guard's name is its problem's slug)."""

    COOLDOWN_SECONDS = "cooldown_seconds"
    MAX_CONSECUTIVE_FAILURES = "max_consecutive_failures"
    MAX_EXECUTIONS_PER_HOUR = "max_executions_per_hour"
    MAX_CONCURRENT = "max_concurrent"


class HistoryField(StrEnum):
    """What a workflow's history (status_changes.field) records a change of."""

    STATUS = "status"
    ENABLED = "enabled"
    APPROVAL_REQUIRED = "approval_required"
    OWNER = "owner"
    COOLDOWN_SECONDS = GuardSetting.COOLDOWN_SECONDS.value
    MAX_CONSECUTIVE_FAILURES = GuardSetting.MAX_CONSECUTIVE_FAILURES.value
    MAX_EXECUTIONS_PER_HOUR = GuardSetting.MAX_EXECUTIONS_PER_HOUR.value
    MAX_CONCURRENT = GuardSetting.MAX_CONCURRENT.value
    CIRCUIT = "circuit"  # closed -> open by the catalog, open -> closed by an operator
    FAILURE_STREAK = "failure_streak"  # an operator's clear


class NotificationType(StrEnum):
    """The events the catalog notifies (domain/notifications.py)."""

    EXECUTION_AWAITING_APPROVAL = "execution.awaiting_approval"
    EXECUTION_APPROVED = "execution.approved"
    EXECUTION_REJECTED = "execution.rejected"
    EXECUTION_EXPIRED = "execution.expired"
    EXECUTION_FAILED = "execution.failed"
    GUARD_CIRCUIT_OPENED = "guard.circuit_opened"


class NotificationChannel(StrEnum):
    WEBHOOK = "webhook"
    SNS = "sns"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ABANDONED = "abandoned"


class AlertStatus(StrEnum):
    """An alert episode's status, in the order it moves; Alertmanager reports firing and resolved
    (domain/alerts.py)."""

    FIRING = "firing"
    SUPERSEDED = "superseded"
    RESOLVED = "resolved"
