"""Domain errors. Each kind maps to one RFC 7807 problem type in ``chalicelib.http.problems``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One problem with the input, located by a JSON path such as ``$.labels.severity``."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class CatalogError(Exception):
    """Base of every error the service reports to a client on purpose."""

    slug = "internal-error"
    status = 500
    title = "Internal error"
    retry_after: int | None = None  # seconds after which trying again may succeed (the Retry-After header)

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors or [])

    def members(self) -> dict[str, object]:
        """Members the problem body carries besides the standard ones (none unless a kind says so)."""
        return {}


class ValidationFailed(CatalogError):
    slug, status, title = "validation-error", 400, "Invalid request"


class Unauthorized(CatalogError):
    """No usable key: ``key_sent`` tells an unknown or revoked key from a request that carried none (or not as a
    bearer token); the HTTP edge says which in its WWW-Authenticate challenge."""

    slug, status, title = "unauthorized", 401, "Authentication required"

    def __init__(self, detail: str, key_sent: bool = True) -> None:
        super().__init__(detail)
        self.key_sent = key_sent


class Forbidden(CatalogError):
    slug, status, title = "forbidden", 403, "Not allowed"


class NotFound(CatalogError):
    slug, status, title = "not-found", 404, "Not found"


class ContentConflict(CatalogError):
    slug, status, title = "content-conflict", 409, "Version exists with other content"


class InvalidTransition(CatalogError):
    slug, status, title = "invalid-transition", 409, "Invalid state transition"


class WorkflowNotApplicable(CatalogError):
    """The incident's labels exclude the workflow (the search hard-filter rule)."""

    slug, status, title = "workflow-not-applicable", 409, "Workflow not applicable to the incident"


class TargetBusy(CatalogError):
    """Another execution is active on the same target; the body names it."""

    slug, status, title = "target-busy", 409, "Target has an active execution"

    def __init__(self, detail: str, active_execution_id: str) -> None:
        super().__init__(detail)
        self.active_execution_id = active_execution_id

    def members(self) -> dict[str, object]:
        return {"active_execution_id": self.active_execution_id}


class UnresolvableStep(CatalogError):
    """A step of a composite workflow resolves to no runnable version now (``errors`` names it by path)."""

    slug, status, title = "unresolvable-step", 409, "A step of the composite workflow does not resolve"


class WorkflowOwnedElsewhere(CatalogError):
    """The workflow belongs to another origin (a resource's cluster and namespace, or the REST API). A registration
    failing for this reason reports it as ``WorkflowOwnedElsewhere`` (services/registration.py)."""

    slug, status, title = "workflow-owned-elsewhere", 409, "Workflow owned elsewhere"


class GuardRefusal(CatalogError):
    """A guard refuses the execution (README, "Guardrails"; the policy: chalicelib/domain/guards.py). Each guard is
    one subclass, its slug the guard's name. ``retry_after``: seconds after which the guard may let it run (the body
    carries it, and the Retry-After header); None where waiting does not help (an operator must act)."""

    status = 409

    def __init__(self, detail: str, retry_after: int | None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def members(self) -> dict[str, object]:
        return {"retry_after": self.retry_after}


class RecentlyRemediated(GuardRefusal):
    slug, title = "recently-remediated", "The workflow ran on this target too recently"


class ConsecutiveFailures(GuardRefusal):
    slug, title = "consecutive-failures", "The workflow failed on this target too many times in a row"


class IneffectiveChain(GuardRefusal):
    slug, title = "ineffective-chain", "The workflow did not fix this incident on this target, twice"


class RateLimited(GuardRefusal):
    slug, title = "rate-limited", "The workflow runs too often or too widely at once"


class CircuitOpen(GuardRefusal):
    slug, title = "circuit-open", "The workflow's circuit breaker is open"


# Every guard, in the order they are checked and reported: the ones only an operator can lift first, then the ones
# about this target (the strongest first: running it did not help here), then the fleet-wide rate.
GUARD_REFUSALS: tuple[type[GuardRefusal], ...] = (CircuitOpen, ConsecutiveFailures, IneffectiveChain,
                                                  RecentlyRemediated, RateLimited)


class ImmutableField(CatalogError):
    slug, status, title = "immutable-field", 409, "Field cannot be changed"


class PayloadTooLarge(CatalogError):
    slug, status, title = "payload-too-large", 413, "Payload too large"


class UnsupportedMediaType(CatalogError):
    slug, status, title = "unsupported-media-type", 415, "Unsupported media type"


class ServiceUnavailable(CatalogError):
    """A temporary condition (database down, every connection busy): the client should retry after
    ``retry_after`` seconds, which the HTTP edge sends as ``Retry-After``."""

    slug, status, title = "service-unavailable", 503, "Service unavailable"
    DEFAULT_RETRY_AFTER = 2

    def __init__(self, detail: str, errors: list[FieldError] | None = None, retry_after: int | None = None) -> None:
        super().__init__(detail, errors)
        self.retry_after = retry_after or self.DEFAULT_RETRY_AFTER


@dataclass
class ErrorCollector:
    """Gathers every problem of an input so that one 400 lists them all."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def extend(self, errors: list[FieldError]) -> None:
        self.errors.extend(errors)

    def raise_if_any(self, detail: str) -> None:
        if self.errors:
            raise ValidationFailed(detail, self.errors)
