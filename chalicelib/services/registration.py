"""Registration: accept RemediationWorkflow events, and the job that turns one into a catalog version.

``RegistrationService`` validates an event against the CRD, records it once per delivery
(resource uid, generation, event) and queues the job. ``RegistrationJob`` resolves the image to a
digest, reads /playbook-schema.json, merges it with the resource, and writes the version together
with the registration result in one transaction through the catalog service (so content-hash
idempotency, 409 conflicts and latest stay in one place). Every failure becomes an operator-
readable reason on the registration; a failed registration leaves the catalog untouched.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib import metrics
from chalicelib.adapters.dispatch import Dispatcher, JobMessage
from chalicelib.adapters.registry import Missing, RegistryError, ResolvedImage
from chalicelib.adapters.registry.errors import REGISTRY_NOT_ALLOWED, SCHEMA_INVALID, SCHEMA_MISSING
from chalicelib.domain.errors import ContentConflict, FieldError, NotFound, ServiceUnavailable, ValidationFailed
from chalicelib.domain.images import ImageReference, parse_image_reference
from chalicelib.domain.labels import validate_labels
from chalicelib.domain.resource import DELETED, WorkflowResource, parse_event
from chalicelib.domain.signature_policy import SIGNATURE_INVALID, SIGNATURE_MISSING, SignatureResult, SignatureVerifier
from chalicelib.domain.storable import first_unstorable
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.workflows import NewVersion, parse_new_version
from chalicelib.observability import bind, clear_bound, logger
from chalicelib.services.catalog import CatalogService
from chalicelib.stores import registration_store as store
from chalicelib.stores import signature_store
from chalicelib.stores.db import Database
from chalicelib.stores.rows import Row

SCHEMA_PATH = "/playbook-schema.json"
SCHEMA_FORMAT = "1.0"
SCHEMA_FIELDS = {"schema_version", "workflow_id", "version", "title", "description", "labels", "parameters"}
CONTENT_CONFLICT = "ContentConflict"
INTERNAL_ERROR = "InternalError"
TITLES = {
    "ImagePullFailed": "The image could not be pulled",
    "ImageTooLarge": "The image exceeds a download limit",
    "ImageInvalid": "The image is malformed",
    REGISTRY_NOT_ALLOWED: "The registry or a destination it points to is not allowed",
    SCHEMA_MISSING: f"The image has no {SCHEMA_PATH}",
    SCHEMA_INVALID: f"{SCHEMA_PATH} is not valid",
    CONTENT_CONFLICT: "This version exists with other content",
    INTERNAL_ERROR: "The registration failed unexpectedly",
    SIGNATURE_MISSING: "The image is not signed",
    SIGNATURE_INVALID: "The image has no valid signature by a trusted key",
}
MAX_DETAIL_ERRORS = 10


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


class RegistrationService:
    def __init__(self, db: Database, dispatcher: Dispatcher) -> None:
        self._db = db
        self._dispatcher = dispatcher

    def submit(self, body: Mapping[str, Any], actor: str, correlation_id: str | None) -> tuple[Row, bool]:
        """Validates and records the event, queues its job once; returns (registration, queued now)."""
        event = parse_event(body)
        resource = event.resource
        with self._db.transaction() as cur:
            row, created = store.insert(cur, event.event, resource, actor, correlation_id)
        ids = {"registration_id": str(row["registration_id"]), "workflow_id": resource.workflow_id,
               "version": resource.version, "correlation_id": correlation_id}  # fmt: skip
        if not created:
            logger.info("registration delivered again; nothing queued", extra=ids)
            return row, False
        try:
            self._dispatcher.dispatch(JobMessage(str(row["registration_id"]), correlation_id))
        except Exception:
            logger.exception("could not queue the registration job", extra=ids)
            with self._db.transaction() as cur:
                store.delete_pending(cur, str(row["registration_id"]))
            raise ServiceUnavailable("The registration could not be queued; send the event again.") from None
        logger.info("registration queued", extra={**ids, "event": event.event, "resource": resource.key})
        return row, True

    def get(self, registration_id: str) -> Row:
        with self._db.cursor() as cur:
            row = store.get(cur, registration_id) if _is_uuid(registration_id) else None
        if row is None:
            raise NotFound(f"No registration '{registration_id}'.")
        return row


class RegistrationJob:
    """Runs one registration; safe to run again for the same id (at-least-once delivery)."""

    def __init__(
        self, db: Database, catalog: CatalogService, images: ImageReader, signatures: SignatureVerifier | None = None
    ) -> None:
        self._db = db
        self._catalog = catalog
        self._images = images
        self._signatures = signatures  # None: no SIGNATURE_POLICY_FILE, nothing to check

    def __call__(self, message: JobMessage, final: bool) -> None:
        self.run(message.registration_id, final, message.correlation_id)

    def run(self, registration_id: str, final: bool = True, correlation_id: str | None = None) -> str | None:
        """Returns the final status, None when there was nothing to do; raises RetryLater to be run again."""
        clear_bound()  # a pool thread or a warm Lambda must not carry the previous job's ids
        bind(registration_id=registration_id, correlation_id=correlation_id)
        try:
            with self._db.transaction() as cur:
                row = store.claim(cur, registration_id) if _is_uuid(registration_id) else None
            if row is None:
                logger.info("registration already finished or unknown; nothing to do")
                return None
            resource = store.resource_of(row)
            bind(workflow_id=resource.workflow_id, version=resource.version)
            return self._attempt(registration_id, row, resource, final, str(row["requested_by"]))
        finally:
            clear_bound()

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
        except RegistryError as error:
            if error.transient and not final:
                logger.warning("registration will be retried", extra={"reason": error.reason, "detail": error.detail})
                with self._db.transaction() as cur:
                    store.note_retry(cur, registration_id, error.reason, error.detail)
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

    def _register(self, registration_id: str, resource: WorkflowResource, actor: str) -> None:
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
        with self._db.transaction() as cur:
            self._catalog.create_version_in(cur, new, actor)
            self._catalog.set_enabled_in(cur, new.workflow_id, resource.enabled, _enabled_reason(resource), actor)
            store.succeed(cur, registration_id, resolved.digest, resolved.pinned)
            if signature is not None:
                signature_store.record_on_registration(cur, registration_id, signature)
                signature_store.record_on_version(cur, new.workflow_id, new.version, signature)

    def _disable(self, registration_id: str, resource: WorkflowResource, actor: str) -> None:
        with self._db.transaction() as cur:
            try:
                self._catalog.set_enabled_in(
                    cur, resource.workflow_id, False, f"RemediationWorkflow {resource.key} was deleted", actor
                )
            except NotFound:
                logger.info("deleted resource never registered a workflow; nothing to disable")
            store.succeed(cur, registration_id, None, None)

    def _fail(self, registration_id: str, failure: RegistrationFailed) -> str:
        title = TITLES.get(failure.reason, "The registration failed")
        with self._db.transaction() as cur:
            store.fail(
                cur, registration_id, failure.reason, title, failure.detail, failure.errors, failure.image_digest
            )
            if failure.signature is not None:
                signature_store.record_on_registration(cur, registration_id, failure.signature)
        logger.info("registration failed", extra={"reason": failure.reason, "detail": failure.detail})
        metrics.count(metrics.REGISTRATIONS_FAILED, registration_id=registration_id, reason=failure.reason)
        return store.FAILED


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
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
