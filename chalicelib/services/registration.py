"""Registration: accept RemediationWorkflow events, and the job that turns one into a catalog version.

``RegistrationService`` validates an event against the CRD, records it once per delivery
(resource uid, generation, event) and queues the job. ``RegistrationJob`` resolves the image to a
digest, reads /playbook-schema.json, merges it with the resource, and writes the version together
with the registration result in one transaction through the workflow service (so content-hash
idempotency, 409 conflicts and latest stay in one place). A composite workflow's resource names
steps instead of an image: its job pulls nothing and writes the version the API would. Every failure
becomes an operator-readable reason on the registration; a failed registration leaves the catalog
untouched.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib import metrics
from chalicelib.adapters.dispatch import MAX_RECEIVES, Dispatcher, JobMessage
from chalicelib.adapters.registry import Missing, RegistryError, ResolvedImage
from chalicelib.adapters.registry.errors import SCHEMA_INVALID, SCHEMA_MISSING
from chalicelib.domain.errors import (
    ContentConflict,
    FieldError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    WorkflowOwnedElsewhere,
)
from chalicelib.domain.images import ImageReference, parse_image_reference
from chalicelib.domain.labels import validate_labels
from chalicelib.domain.reconciliation import Reconciliation
from chalicelib.domain.resource import DELETED, ResourceEvent, WorkflowResource, composite_body, resource_path
from chalicelib.domain.rows import Row
from chalicelib.domain.search import IndexEntry
from chalicelib.domain.signature_policy import SignatureResult, SignatureVerifier
from chalicelib.domain.storable import first_unstorable
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.vocabularies import SCHEMA_PATH, RegistrationReason
from chalicelib.domain.workflows import NewVersion, parse_new_version
from chalicelib.observability import bind, clear_bound, logger
from chalicelib.services.api_keys import Principal
from chalicelib.services.workflows import WorkflowService
from chalicelib.stores import registration_store as store
from chalicelib.stores import signature_store, workflow_store
from chalicelib.stores.db import Database

SCHEMA_FORMAT = "1.0"
SCHEMA_FIELDS = {"schema_version", "workflow_id", "version", "title", "description", "labels", "parameters"}
# The reasons (domain/vocabularies.py RegistrationReason) this module gives itself; the adapters give the others.
CONTENT_CONFLICT = RegistrationReason.CONTENT_CONFLICT
OWNED_ELSEWHERE = RegistrationReason.WORKFLOW_OWNED_ELSEWHERE
COMPOSITION_INVALID = RegistrationReason.COMPOSITION_INVALID
INTERNAL_ERROR = RegistrationReason.INTERNAL_ERROR
MAX_DETAIL_ERRORS = 10
MAX_ATTEMPTS = MAX_RECEIVES  # attempts of one registration, by queue redelivery or after its worker died
# With SQS a pending job is queued again after this long: more than the queue's visibility timeout (720 s,
# infra/), after which SQS itself would have delivered it again.
SQS_PENDING_SECONDS = 900.0


class ImageReader(Protocol):
    """Port: the registry client (chalicelib/adapters/registry)."""

    def read_file(self, reference: ImageReference, path: str) -> tuple[ResolvedImage, bytes | Missing]: ...


@dataclass
class RegistrationFailed(Exception):
    """A permanent failure with the reason operators see on their resource."""

    reason: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    image_digest: str | None = None
    signature: SignatureResult | None = None


class RetryLater(Exception):
    """A transient failure on a non-final attempt: the queue should deliver the job again."""


@dataclass(frozen=True)
class Leases:
    """How registration jobs hold their work (chalicelib/config.py: REGISTRATION_LEASE_SECONDS ...)."""

    seconds: float = 60.0  # a running job's lease; its worker renews it every third of this
    pending_seconds: float = 60.0  # a pending job not started within this is queued again
    max_attempts: int = MAX_ATTEMPTS  # a job whose worker died this many times is failed, not re-run


@dataclass(frozen=True)
class SweepReport:
    requeued: list[str]
    abandoned: list[str]


@dataclass(frozen=True)
class ReconcileResult:
    disabled: list[str]  # workflow ids disabled now
    stale: list[str]  # uids of live resources whose generation the catalog has not registered


class RegistrationService:
    def __init__(self, db: Database, dispatcher: Dispatcher, leases: Leases | None = None,
                 reconcile_grace_seconds: float = 60.0) -> None:
        """``reconcile_grace_seconds``: a workflow whose source registered this recently is left to the next
        reconciliation (RECONCILE_GRACE_SECONDS): its resource may have been created after the watcher listed."""
        self._db = db
        self._dispatcher = dispatcher
        self._leases = leases or Leases()
        self._grace = reconcile_grace_seconds

    def submit(self, event: ResourceEvent, principal: Principal, correlation_id: str | None) -> tuple[Row, bool]:
        """Records the event, queues its job once; returns (registration, queued now). The resource's cluster is the
        key's (never the body's)."""
        resource = dataclasses.replace(event.resource, cluster=principal.acting_cluster)
        if not principal.manages(resource.namespace):
            raise Forbidden(f"This API key may not register resources of namespace '{resource.namespace}'.")
        actor = principal.key_id
        with self._db.transaction() as tx:
            row, created = store.insert(tx, event.event, resource, actor, correlation_id)
            registration_id = str(row["registration_id"])
            due = None if created else store.requeue_if_due(tx, registration_id, self._leases.pending_seconds)
        ids = {"registration_id": str(row["registration_id"]), "workflow_id": resource.workflow_id,
               "version": resource.version, "correlation_id": correlation_id}  # fmt: skip
        if not created:
            if due is not None:  # the same delivery again, for a job that was lost: queue it once more
                self._dispatch_again(due)
            logger.info("registration delivered again", extra={**ids, "queued_again": due is not None})
            return row, False
        try:
            self._dispatcher.dispatch(JobMessage(str(row["registration_id"]), correlation_id))
        except Exception:
            logger.exception("could not queue the registration job", extra=ids)
            with self._db.transaction() as tx:
                store.delete_pending(tx, str(row["registration_id"]))
            raise ServiceUnavailable("The registration could not be queued; send the event again.") from None
        logger.info("registration queued", extra={**ids, "event": event.event, "resource": resource.key})
        return row, True

    def get(self, registration_id: str) -> Row:
        with self._db.reading() as tx:
            row = store.get(tx, registration_id)
        if row is None:
            raise NotFound(f"No registration '{registration_id}'.")
        return row

    def reconcile(self, request: Reconciliation, principal: Principal) -> ReconcileResult:
        """Disables, in one transaction, the workflows owned by the scope (the key's cluster; the namespace, or every
        one) whose source resource is not live (audited like any disable), and names the live resources whose
        generation has not been registered; enables nothing and never touches what another cluster, namespace or
        the API owns."""
        if not principal.manages(request.namespace):
            scope = f"namespace '{request.namespace}'" if request.namespace else "every namespace"
            raise Forbidden(f"This API key may not reconcile {scope}; it manages only its own namespaces.")
        cluster = principal.acting_cluster
        live = [resource.uid for resource in request.live]
        with self._db.transaction() as tx:
            disabled = workflow_store.disable_missing_sources(tx, cluster, request.namespace, live, self._grace,
                                                              principal.key_id)
            stale = store.unregistered(tx, cluster, [(r.uid, r.namespace, r.generation) for r in request.live])
        result = ReconcileResult([str(row["workflow_id"]) for row in disabled], list(stale))
        logger.info("reconciliation", extra={
            "scope": request.scope, "cluster": cluster, "live": len(live), "disabled": len(result.disabled),
            "stale": len(result.stale),
            "disabled_workflow_ids": result.disabled[:100], "stale_uids": result.stale[:100],
        })
        metrics.count(metrics.RECONCILED_DISABLED, len(result.disabled), scope=request.scope)
        metrics.count(metrics.RECONCILED_STALE, len(result.stale), scope=request.scope)
        return result

    def sweep(self, batch: int = 100) -> SweepReport:
        """Makes sure every registration finishes: fails the ones whose worker died too often, and queues
        again running ones whose lease expired and pending ones never picked up.

        ``make run`` calls it at start and periodically; in AWS a scheduled function does (app.py).
        """
        with self._db.transaction() as tx:
            abandoned = store.abandon(tx, self._leases.max_attempts, INTERNAL_ERROR, INTERNAL_ERROR.error_title)
            due = store.due_again(tx, self._leases.pending_seconds, batch)
        for row in abandoned:
            logger.warning("registration abandoned after repeated worker failures", extra=_row_ids(row))
            metrics.count(metrics.REGISTRATIONS_FAILED, registration_id=str(row["registration_id"]),
                          reason=INTERNAL_ERROR)
        requeued = [str(row["registration_id"]) for row in due if self._dispatch_again(row)]
        if due or abandoned:
            logger.info("registration sweep", extra={"requeued": len(requeued), "abandoned": len(abandoned)})
        return SweepReport(requeued, [str(row["registration_id"]) for row in abandoned])

    def _dispatch_again(self, row: Row) -> bool:
        try:
            self._dispatcher.dispatch(JobMessage(str(row["registration_id"]), row["correlation_id"]))
        except Exception:  # the next sweep tries again
            logger.exception("could not queue the registration job again", extra=_row_ids(row))
            return False
        logger.info("registration queued again", extra={**_row_ids(row), "was": row["status"]})
        return True


class RegistrationJob:
    """Runs one registration; safe to run again for the same id (at-least-once delivery).

    The job holds a lease on the registration while it runs, renewed by a background thread, so a
    job whose process died is taken up again by the sweeper once the lease expires. A database
    step that fails because its connection broke is tried once more on a fresh connection.
    """

    def __init__(
        self,
        db: Database,
        workflows: WorkflowService,
        images: ImageReader,
        signatures: SignatureVerifier | None = None,
        leases: Leases | None = None,
    ) -> None:
        self._db = db
        self._workflows = workflows
        self._images = images
        self._signatures = signatures  # None: no SIGNATURE_POLICY_FILE, nothing to check
        self._leases = leases or Leases()
        self._keeper = LeaseKeeper(db, self._leases.seconds)

    def __call__(self, message: JobMessage, final: bool) -> None:
        self.run(message.registration_id, final, message.correlation_id)

    def run(self, registration_id: str, final: bool = True, correlation_id: str | None = None) -> str | None:
        """Returns the final status, None when there was nothing to do; raises RetryLater to be run again."""
        clear_bound()  # a pool thread or a warm Lambda must not carry the previous job's ids
        bind(registration_id=registration_id, correlation_id=correlation_id)
        try:
            row = _once_more(lambda: self._claim(registration_id)) if _is_uuid(registration_id) else None
            if row is None:
                logger.info("registration already finished, held by another worker, or unknown; nothing to do")
                return None
            resource = store.resource_of(row)
            bind(workflow_id=resource.workflow_id, version=resource.version)
            final = final or row["attempts"] >= self._leases.max_attempts
            with self._keeper.holding(registration_id):
                return self._attempt(registration_id, row, resource, final, str(row["requested_by"]))
        finally:
            clear_bound()

    def _claim(self, registration_id: str) -> Row | None:
        with self._db.transaction() as tx:
            return store.claim(tx, registration_id, self._keeper.owner, self._leases.seconds)

    def _attempt(self, registration_id: str, row: Row, resource: WorkflowResource, final: bool, actor: str) -> str:
        try:
            if row["event"] == DELETED:
                self._disable(registration_id, resource, actor)
            else:
                self._register(registration_id, resource, actor)
            logger.info("registration succeeded", extra={"event": row["event"], "attempt": row["attempts"]})
            metrics.count(metrics.REGISTRATIONS_SUCCEEDED, registration_id=registration_id)
            return store.SUCCEEDED
        except RegistrationFailed as failure:
            return self._fail(registration_id, failure)
        except ContentConflict as conflict:
            return self._fail(registration_id, RegistrationFailed(CONTENT_CONFLICT, conflict.detail))
        except WorkflowOwnedElsewhere as elsewhere:  # nothing was written: the check precedes every write
            return self._fail(registration_id, RegistrationFailed(OWNED_ELSEWHERE, elsewhere.detail))
        except RegistryError as error:
            if error.transient and not final:
                logger.warning("registration will be retried", extra={"reason": error.reason, "detail": error.detail})
                _once_more(functools.partial(self._release_for_retry, registration_id, error))
                raise RetryLater(error.detail) from None
            return self._fail(registration_id, RegistrationFailed(error.reason, error.detail))
        except Exception:
            if not final:
                raise
            logger.exception("registration failed unexpectedly on its last attempt")
            self._fail(
                registration_id, RegistrationFailed(INTERNAL_ERROR, "The job failed unexpectedly; see the logs.")
            )
            raise

    def _release_for_retry(self, registration_id: str, error: RegistryError) -> None:
        with self._db.transaction() as tx:
            store.release_for_retry(tx, registration_id, error.reason, error.detail)

    def _register(self, registration_id: str, resource: WorkflowResource, actor: str) -> None:
        self._workflows.check_origin(resource.workflow_id, resource.origin)  # before pulling anything
        if resource.image is None:
            self._register_composite(registration_id, resource, actor)
            return
        reference = parse_image_reference(resource.image)  # validated at submit
        resolved, found = self._images.read_file(reference, SCHEMA_PATH)
        # The digest checked is the one pinned in the catalog (an index's own digest for multi-platform images).
        signature = self._signatures.check(reference, resolved.digest) if self._signatures else None
        if signature is not None and signature.rejects:
            raise RegistrationFailed(
                str(signature.reason), signature.detail, image_digest=resolved.digest, signature=signature
            )
        if isinstance(found, Missing):
            raise RegistrationFailed(
                SCHEMA_MISSING,
                f"{found.why} ({resolved.pinned}); a workflow image must contain {SCHEMA_PATH} at its root.",
                image_digest=resolved.digest,
                signature=signature,
            )
        try:
            new = merge(resource, found, resolved.pinned)
        except RegistrationFailed as failure:
            failure.image_digest = resolved.digest
            failure.signature = signature
            raise
        entry = self._workflows.prepare(new)  # the embedding, before the transaction
        _once_more(lambda: self._write_version(registration_id, resource, new, entry, resolved, signature, actor))
        self._workflows.settle()

    def _register_composite(self, registration_id: str, resource: WorkflowResource, actor: str) -> None:
        """A composite workflow names no image: nothing is pulled; its steps are checked as the API checks them."""
        try:
            new = parse_new_version(composite_body(resource))
            entry = self._workflows.prepare(new)
            _once_more(lambda: self._write_version(registration_id, resource, new, entry, None, None, actor))
        except ValidationFailed as invalid:
            errors = [FieldError(resource_path(e.path), e.message) for e in invalid.errors]
            listed = "; ".join(f"{e.path}: {e.message}" for e in errors[:MAX_DETAIL_ERRORS])
            more = f" (and {len(errors) - MAX_DETAIL_ERRORS} more)" if len(errors) > MAX_DETAIL_ERRORS else ""
            raise RegistrationFailed(COMPOSITION_INVALID, f"The steps break {len(errors)} rule(s): {listed}{more}.",
                                     errors) from None
        self._workflows.settle()

    def _write_version(self, registration_id: str, resource: WorkflowResource, new: NewVersion,
                       entry: IndexEntry | None, resolved: ResolvedImage | None, signature: SignatureResult | None,
                       actor: str) -> None:
        with self._db.transaction() as tx:
            # Checks the owner under the workflow's row lock first: another origin's registration changes nothing.
            self._workflows.create_version_in(tx, new, actor, entry, source=resource.source)
            self._workflows.set_enabled_in(tx, new.workflow_id, resource.enabled, _enabled_reason(resource), actor)
            if resolved is None:  # a composite: no image
                store.succeed(tx, registration_id, None, None)
            else:
                store.succeed(tx, registration_id, resolved.digest, resolved.pinned)
            if signature is not None:
                signature_store.record_on_registration(tx, registration_id, signature)
                signature_store.record_on_version(tx, new.workflow_id, new.version, signature)

    def _disable(self, registration_id: str, resource: WorkflowResource, actor: str) -> None:
        _once_more(lambda: self._write_disable(registration_id, resource, actor))

    def _write_disable(self, registration_id: str, resource: WorkflowResource, actor: str) -> None:
        with self._db.transaction() as tx:
            try:
                self._workflows.set_enabled_in(
                    tx, resource.workflow_id, False, f"RemediationWorkflow {resource.key} was deleted", actor,
                    origin=resource.origin,
                )
            except NotFound:
                logger.info("deleted resource never registered a workflow; nothing to disable")
            store.succeed(tx, registration_id, None, None)

    def _fail(self, registration_id: str, failure: RegistrationFailed) -> str:
        _once_more(lambda: self._write_failure(registration_id, failure))
        logger.info("registration failed", extra={"reason": failure.reason, "detail": failure.detail})
        metrics.count(metrics.REGISTRATIONS_FAILED, registration_id=registration_id, reason=failure.reason)
        return store.FAILED

    def _write_failure(self, registration_id: str, failure: RegistrationFailed) -> None:
        known = failure.reason in RegistrationReason
        title = RegistrationReason(failure.reason).error_title if known else "The registration failed"
        with self._db.transaction() as tx:
            store.fail(
                tx, registration_id, failure.reason, title, failure.detail, failure.errors, failure.image_digest
            )
            if failure.signature is not None:
                signature_store.record_on_registration(tx, registration_id, failure.signature)


class LeaseKeeper:
    """Renews the leases of the registrations this process is running, every third of their length.

    One daemon thread per process, started with the first job; in Lambda it runs while an
    invocation runs (the environment is frozen in between, when there is nothing to renew).
    """

    def __init__(self, db: Database, lease_seconds: float) -> None:
        self._db = db
        self._lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def holding(self, registration_id: str) -> Iterator[None]:
        with self._lock:
            self._held.add(registration_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._renew_forever, name="registration-leases", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(registration_id)

    def _renew_forever(self) -> None:
        while True:
            time.sleep(self._lease_seconds / 3)
            with self._lock:
                held = sorted(self._held)
            if not held:
                continue
            try:
                with self._db.transaction() as tx:
                    store.renew_leases(tx, held, self.owner, self._lease_seconds)
            except Exception:  # the database is away: the leases may lapse and the sweeper re-runs those jobs
                logger.warning("could not renew registration leases", extra={"registrations": len(held)})


def _once_more[T](step: Callable[[], T]) -> T:
    """Runs a database step, and once more if its connection broke (the pool hands out a fresh one)."""
    try:
        return step()
    except ServiceUnavailable:
        logger.warning("database step failed; trying once more on a fresh connection")
        return step()


def _row_ids(row: Row) -> dict[str, Any]:
    return {"registration_id": str(row["registration_id"]), "workflow_id": row["workflow_id"],
            "version": row["version"], "correlation_id": row["correlation_id"]}


def merge(resource: WorkflowResource, document: bytes, container_image: str) -> NewVersion:
    """The version from /playbook-schema.json with the resource's fields on top; RegistrationFailed if invalid.

    The resource's title and description replace the file's; its labels override the file's
    label by label (the file's labels are defaults). workflow_id and version in the file, when
    present, must equal the resource's.
    """
    try:
        data = json.loads(document.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RegistrationFailed(SCHEMA_INVALID, f"{SCHEMA_PATH} is not valid UTF-8 JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise RegistrationFailed(SCHEMA_INVALID, f"{SCHEMA_PATH} must be a JSON object.")
    unstorable = first_unstorable(data, "$")
    if unstorable:
        raise _invalid([unstorable])
    errors = [FieldError(f"$.{key}", "unknown field") for key in sorted(set(data) - SCHEMA_FIELDS)]
    if data.get("schema_version") != SCHEMA_FORMAT:
        errors.append(FieldError("$.schema_version", f'must be "{SCHEMA_FORMAT}"'))
    if "workflow_id" in data and data["workflow_id"] != resource.workflow_id:
        errors.append(
            FieldError(
                "$.workflow_id", f"is '{data['workflow_id']}' but the resource registers '{resource.workflow_id}'"
            )
        )
    if "version" in data and _normalized(data["version"]) != resource.version:
        errors.append(
            FieldError("$.version", f"is '{data['version']}' but the resource's spec.version is '{resource.version}'")
        )
    file_labels = data.get("labels", {})
    errors.extend(validate_labels(file_labels, "$.labels", required=False))
    if errors:
        raise _invalid(errors)
    body = {
        "workflow_id": resource.workflow_id,
        "version": resource.version,
        "title": resource.title or data.get("title"),
        "description": resource.description or data.get("description"),
        "labels": {**file_labels, **resource.labels},
        "container_image": container_image,
        "parameters": data.get("parameters"),
        "status": "active",
    }
    try:
        return parse_new_version(body)
    except ValidationFailed as invalid:
        raise _invalid(invalid.errors) from None


def _invalid(errors: list[FieldError]) -> RegistrationFailed:
    listed = "; ".join(f"{e.path}: {e.message}" for e in errors[:MAX_DETAIL_ERRORS])
    more = f" (and {len(errors) - MAX_DETAIL_ERRORS} more)" if len(errors) > MAX_DETAIL_ERRORS else ""
    return RegistrationFailed(SCHEMA_INVALID, f"{SCHEMA_PATH} breaks {len(errors)} rule(s): {listed}{more}.", errors)


def _normalized(raw: object) -> str | None:
    try:
        return normalize_version(raw)
    except ValueError:
        return None


def _enabled_reason(resource: WorkflowResource) -> str:
    return f"RemediationWorkflow {resource.key} sets spec.enabled={str(resource.enabled).lower()}"


def _is_uuid(value: str) -> bool:
    """A job message's registration id must be a UUID before it reaches SQL (a queue message is outside input)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
