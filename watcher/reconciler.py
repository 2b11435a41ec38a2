"""One resource's round trip: forward it to the catalog, follow the registration, write the status.

Restart safety: as soon as the catalog accepts a delivery the status records the registration id
with phase Pending for that generation, so a restarted watcher follows the same registration
instead of posting again. A crash before that write re-posts the same (uid, generation, event)
delivery, which the catalog answers with the same registration id.

Following never blocks a worker (the controller idiom "requeue after"): a pass either writes the
outcome or polls the registration once and hands the key back to the work queue with a delay that
doubles up to a cap; the Pending status in the cache is what the next pass reads.

Condition ``Ready`` follows metav1.Condition; its reason is the catalog error type in CamelCase
(``image-pull-failed`` -> ``ImagePullFailed``), so new error kinds need no change here.

Each outcome is also recorded as a Kubernetes Event on the resource (watcher/events.py): ``Registered``,
or ``RegistrationFailed`` with the condition's reason at the start of its message.
"""

import re
import threading
from datetime import UTC, datetime
from logging import ERROR, INFO, WARNING
from typing import Any

from kubernetes import client

from watcher.catalog import CatalogClient, CatalogRejected, CatalogUnavailable
from watcher.config import log
from watcher.events import EventRecorder, involved
from watcher.informer import Cache, Key, WorkQueue, key_of
from watcher.resources import DELETED, GROUP, KIND, PLURAL, STALE, SYNC, VERSION

PENDING = "Pending"
TERMINAL = ("succeeded", "failed")
MAX_MESSAGE = 4000
OWNED = ("phase", "observedGeneration", "message", "conditions", "registrationId", "workflowId", "catalogVersion",
         "imageDigest", "shortDigest")


def pending(generation: int, registration_id: str, workflow_id: str | None, version: str | None,
            current: dict[str, Any]) -> dict[str, Any]:
    return _status(current, generation, PENDING, "Unknown", "RegistrationPending",
                   f"registration {registration_id} queued", registrationId=registration_id,
                   workflowId=workflow_id, catalogVersion=version)


def rejected(generation: int, reason: str, message: str, current: dict[str, Any]) -> dict[str, Any]:
    """The catalog refused the resource before queueing anything (e.g. a label key the CRD cannot check)."""
    return _status(current, generation, "Failed", "False", reason, message)


def outcome(registration: dict[str, Any], generation: int, enabled: bool, current: dict[str, Any]) -> dict[str, Any]:
    digest = registration.get("image_digest")
    ids = {"registrationId": registration.get("registration_id"), "workflowId": registration.get("workflow_id"),
           "catalogVersion": registration.get("version"), "imageDigest": digest, "shortDigest": short_digest(digest)}
    if registration.get("status") == "succeeded" and not enabled:
        return _status(current, generation, "Disabled", "False", "Disabled",
                       "registered; the workflow is disabled (spec.enabled is false)", **ids)
    if registration.get("status") == "succeeded":
        pinned = f" ({digest})" if digest else ""  # a composite workflow (steps) has no image digest
        return _status(current, generation, "Registered", "True", "Registered",
                       f"registered as {ids['workflowId']} {ids['catalogVersion']}{pinned}", **ids)
    error = registration.get("error") or {}
    message = error.get("detail") or error.get("title") or "registration failed"
    return _status(current, generation, "Failed", "False", reason_from(error.get("type")), message, **ids)


def reason_from(error_type: object) -> str:
    """``https://.../problems/image-pull-failed`` or ``image-pull-failed`` -> ``ImagePullFailed``."""
    slug = str(error_type or "").rstrip("/").rsplit("/", 1)[-1]
    reason = "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", slug))
    return reason if reason[:1].isalpha() else "RegistrationFailed"


def short_digest(digest: str | None) -> str | None:
    """Algorithm and 12 hex digits, for the Digest printer column (printer columns cannot cut strings)."""
    algorithm, _, hex_part = (digest or "").partition(":")
    return f"{algorithm}:{hex_part[:12]}" if hex_part else digest


def is_current(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Would the patch change nothing? (Compared without the condition's transition time.)"""
    def strip(status: dict[str, Any]) -> dict[str, Any]:
        conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions", [])]
        return {**status, "conditions": conditions}

    return all(strip(current).get(key) == value for key, value in strip(desired).items())


def _status(current: dict[str, Any], generation: int, phase: str, ready: str, reason: str, message: str,
            **extra: Any) -> dict[str, Any]:
    message = message[:MAX_MESSAGE]
    previous: dict[str, Any] = next((c for c in current.get("conditions", []) if c.get("type") == "Ready"), {})
    # Standard condition semantics: the transition time moves only when the condition's status does.
    changed_at = previous.get("lastTransitionTime") if previous.get("status") == ready else None
    condition = {"type": "Ready", "status": ready, "reason": reason, "message": message,
                 "observedGeneration": generation,
                 "lastTransitionTime": changed_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    # Every field the watcher owns is set; None removes a stale value (merge-patch semantics), e.g. the
    # digest of the previous generation while a new one is pending.
    return {**dict.fromkeys(OWNED), "phase": phase, "observedGeneration": generation, "message": message,
            "conditions": [condition], **extra}


class Reconciler:
    # Delay before the first look at an accepted registration, doubled on every look up to the cap: quick
    # registrations (seconds) are seen quickly, a slow one costs one GET per cap period and no worker.
    first_poll_seconds, max_poll_seconds = 0.5, 10.0

    def __init__(self, catalog: CatalogClient, api: client.CustomObjectsApi, cache: Cache, events: EventRecorder,
                 stop: threading.Event) -> None:
        self.catalog = catalog
        self.api = api
        self.cache = cache
        self.events = events
        self.stop = stop
        self._polls_lock = threading.Lock()
        self._polls: dict[Key, tuple[str, float]] = {}  # key -> (registration followed, last delay)

    def work(self, queue: WorkQueue) -> None:
        while not self.stop.is_set():
            if (work := queue.get(timeout=1.0)) is None:
                continue
            key, (event, obj) = work
            try:
                again = self.handle(event, obj)
            except Exception as exc:
                delay = queue.done(key, failed=(event, obj))
                # The catalog or the API server failing is expected; anything else is a bug: log its traceback.
                expected = isinstance(exc, CatalogUnavailable | CatalogRejected | client.ApiException)
                log(WARNING if expected else ERROR, "delivery failed, will retry", exc_info=not expected,
                    namespace=key[0], name=key[1], event=event, error=str(exc), retry_in_seconds=delay)
            else:
                queue.done(key)
                if again is not None:
                    queue.add_after(key, (SYNC, obj), again)

    def handle(self, event: str, obj: dict[str, Any]) -> float | None:
        """Returns the delay after which the resource must be looked at again (its registration is still
        running), or None. Raises CatalogUnavailable, CatalogRejected or ApiException when the item must be
        retried later."""
        if event == DELETED:
            self._forget(key_of(obj))
            self._post(DELETED, obj, f"{obj['metadata']['uid']}.deleted")
            return None
        latest = self.cache.get(key_of(obj))
        if latest is None:  # deleted since; its DELETED is queued too
            return None
        if event == STALE and latest["metadata"].get("uid") != obj["metadata"].get("uid"):
            return None  # recreated under the same name since: the new resource has its own events
        return self._sync(latest, force=event == STALE)

    def _sync(self, obj: dict[str, Any], force: bool = False) -> float | None:
        """``force``: deliver even when the status says this generation is done (the catalog says it is not)."""
        current, generation = obj.get("status") or {}, obj["metadata"]["generation"]
        correlation_id = f"{obj['metadata']['uid']}.{generation}"
        if current.get("observedGeneration") == generation:
            if current.get("phase") == PENDING and current.get("registrationId"):
                try:
                    return self._poll(obj, current["registrationId"], correlation_id)
                except CatalogRejected as exc:
                    if exc.status != 404:
                        raise
                    log(WARNING, "the catalog has no record of the pending registration; delivering again",
                        **_ids(obj), registration_id=current["registrationId"])
            elif not force:
                return None
        # The event is derived from the status, not from how we learnt about the object, so a re-delivery
        # after a restart is the same delivery (the catalog answers with the same registration).
        accepted = self._post("MODIFIED" if "observedGeneration" in current else "ADDED", obj, correlation_id)
        if accepted is None:
            return None
        self._write(obj, pending(generation, accepted["registration_id"], accepted.get("workflow_id"),
                                 accepted.get("version"), current))
        return self._next_poll(key_of(obj), accepted["registration_id"])

    def _poll(self, obj: dict[str, Any], registration_id: str, correlation_id: str) -> float | None:
        """Looks at the registration once: writes its outcome, or returns when to look again."""
        registration = self.catalog.registration(registration_id, correlation_id)
        if registration.get("status") not in TERMINAL:
            return self._next_poll(key_of(obj), registration_id)
        enabled = (obj.get("spec") or {}).get("enabled", True) is not False
        finished = outcome(registration, obj["metadata"]["generation"], enabled, obj.get("status") or {})
        self._write(obj, finished)
        self._announce(obj, finished, registration_id)
        self._forget(key_of(obj))
        log(INFO, "registration finished", **_ids(obj), registration_id=registration_id,
            outcome=registration.get("status"), workflow_id=registration.get("workflow_id"),
            version=registration.get("version"))
        return None

    def _next_poll(self, key: Key, registration_id: str) -> float:
        with self._polls_lock:
            followed, delay = self._polls.get(key, ("", 0.0))
            delay = min(delay * 2, self.max_poll_seconds) if followed == registration_id else self.first_poll_seconds
            self._polls[key] = (registration_id, delay)
            return delay

    def _forget(self, key: Key) -> None:
        with self._polls_lock:
            self._polls.pop(key, None)

    def _post(self, event: str, obj: dict[str, Any], correlation_id: str) -> dict[str, Any] | None:
        """Forwards one event; None when the catalog refused the resource itself (the status then says why)."""
        try:
            accepted = self.catalog.register(event, obj, correlation_id)
        except CatalogRejected as exc:
            log(WARNING, "catalog rejected the delivery", **_ids(obj), event=event, http_status=exc.status,
                error=str(exc))
            if event != DELETED:  # a refused deletion (never registered, or invalid) has no status to write
                reason = "Invalid" if exc.status == 400 else reason_from(exc.problem.get("type"))
                refused = rejected(obj["metadata"]["generation"], reason, str(exc), obj.get("status") or {})
                self._write(obj, refused)
                self._announce(obj, refused, f"refused {reason}")
            return None
        log(INFO, "delivery accepted", **_ids(obj), event=event, registration_id=accepted["registration_id"],
            workflow_id=accepted.get("workflow_id"), version=accepted.get("version"), correlation_id=correlation_id)
        return accepted

    def _announce(self, obj: dict[str, Any], status: dict[str, Any], outcome_of: str) -> None:
        """The Event of a finished registration (``outcome_of`` identifies it: the same one is recorded once)."""
        identity = f"{obj['metadata']['generation']}/{outcome_of}"
        reference = involved(obj, f"{GROUP}/{VERSION}", KIND)
        if status["phase"] == "Failed":
            reason = status["conditions"][0]["reason"]
            message = f"{reason}: {status['message']}"
            self.events.record(reference, "RegistrationFailed", message, identity, warning=True)
        else:
            self.events.record(reference, "Registered", status["message"], identity)

    def _write(self, obj: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
        """Merge-patches the status subresource (never the spec); returns the status now stored."""
        current, meta = obj.get("status") or {}, obj["metadata"]
        if is_current(current, desired):
            return current
        try:
            updated = self.api.patch_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"status": desired},
                field_manager="remediation-workflow-watcher", _content_type="application/merge-patch+json")
        except client.ApiException as exc:
            if exc.status == 404:  # deleted meanwhile; its DELETED event does the rest
                return desired
            raise
        self.cache.store(updated)
        return updated.get("status") or desired


def _ids(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid"),
            "generation": meta.get("generation")}
