"""One resource's round trip: forward it to the catalog, follow the registration, write the status.

Restart safety: as soon as the catalog accepts a delivery the status records the registration id
with phase Pending for that generation, so a restarted watcher follows the same registration
instead of posting again. A crash before that write re-posts the same (uid, generation, event)
delivery, which the catalog answers with the same registration id.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from kubernetes import client

from watcher import status as st
from watcher.catalog import CatalogClient, CatalogRejected, CatalogUnavailable
from watcher.informer import DELETED, GROUP, PLURAL, VERSION, Cache, key_of
from watcher.logs import fields, logger
from watcher.workqueue import WorkQueue

FIELD_MANAGER = "remediation-workflow-watcher"
MERGE_PATCH = "application/merge-patch+json"
TERMINAL = ("succeeded", "failed")
AUTH_ERRORS = (401, 403)


class Reconciler:
    def __init__(self, catalog: CatalogClient, api: client.CustomObjectsApi, cache: Cache, stop: threading.Event,
                 follow_seconds: float = 120.0, poll_seconds: float = 0.5) -> None:
        self.catalog = catalog
        self.api = api
        self.cache = cache
        self.stop = stop
        self.follow_seconds = follow_seconds
        self.poll_seconds = poll_seconds

    def handle(self, event: str, obj: dict[str, Any]) -> None:
        """Raises CatalogUnavailable when the delivery must be retried later."""
        if event == DELETED:
            self._forward_delete(obj)
            return
        latest = self.cache.get(key_of(obj))
        if latest is None:  # deleted since it was queued; its DELETED event is queued too
            return
        self._sync(latest)

    def _forward_delete(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        try:
            accepted = self.catalog.register(DELETED, obj, correlation_id=f"{meta['uid']}.deleted")
        except CatalogRejected as exc:
            if exc.status in AUTH_ERRORS:
                raise
            # Nothing to disable (never registered, or refused as invalid): there is no status to write.
            logger.info("deletion not applied by the catalog", extra=fields(**_ids(obj), reason=str(exc)))
            return
        logger.info("deletion forwarded; the catalog disables the workflow",
                    extra=fields(**_ids(obj), registration_id=accepted.registration_id,
                                 workflow_id=accepted.workflow_id))

    def _sync(self, obj: dict[str, Any]) -> None:
        meta, current = obj["metadata"], obj.get("status") or {}
        generation = meta.get("generation", 1)
        correlation_id = f"{meta['uid']}.{generation}"
        pending_id = current.get("registrationId") if current.get("phase") == st.PENDING else None
        if current.get("observedGeneration") == generation and pending_id:
            try:
                self._finish(obj, pending_id, correlation_id, current)
            except CatalogRejected as exc:
                if exc.status != 404:
                    raise
                logger.warning("the catalog has no record of the pending registration; delivering again",
                               extra=fields(**_ids(obj), registration_id=pending_id))
                self._deliver(obj, "MODIFIED", correlation_id, current)
        elif current.get("observedGeneration") != generation:
            # The event type is derived from the status, not from how we learnt about the object, so a
            # re-delivery after a restart is the same delivery (the catalog answers the same registration).
            self._deliver(obj, "MODIFIED" if "observedGeneration" in current else "ADDED", correlation_id, current)

    def _deliver(self, obj: dict[str, Any], event: str, correlation_id: str, current: dict[str, Any]) -> None:
        generation = obj["metadata"].get("generation", 1)
        try:
            accepted = self.catalog.register(event, obj, correlation_id)
        except CatalogRejected as exc:
            if exc.status in AUTH_ERRORS:  # the watcher's key is wrong, not the resource: retry later
                raise
            reason = "Invalid" if exc.status == 400 else st.reason_from(exc.problem.get("type"))
            logger.warning("catalog rejected the resource", extra=fields(**_ids(obj), http_status=exc.status))
            self._write(obj, st.rejected(generation, reason, str(exc), current))
            return
        logger.info("registration queued", extra=fields(**_ids(obj), registration_id=accepted.registration_id,
                                                         workflow_id=accepted.workflow_id, version=accepted.version,
                                                         correlation_id=correlation_id))
        current = self._write(obj, st.pending(generation, accepted.registration_id, accepted.workflow_id,
                                               accepted.version, current))
        self._finish(obj, accepted.registration_id, correlation_id, current)

    def _finish(self, obj: dict[str, Any], registration_id: str, correlation_id: str, current: dict[str, Any]) -> None:
        """Follows the registration and writes its outcome (or leaves Pending for the resync to follow)."""
        registration = self._follow(registration_id, correlation_id)
        if registration is None:
            logger.info("registration still running; the resync follows it later",
                        extra=fields(**_ids(obj), registration_id=registration_id))
            return
        enabled = (obj.get("spec") or {}).get("enabled", True) is not False
        self._write(obj, st.outcome(registration, obj["metadata"].get("generation", 1), enabled, current))
        logger.info("registration finished", extra=fields(**_ids(obj), registration_id=registration_id,
                                                          outcome=registration.get("status"),
                                                          workflow_id=registration.get("workflow_id"),
                                                          version=registration.get("version")))

    def _follow(self, registration_id: str, correlation_id: str) -> dict[str, Any] | None:
        """Polls the registration until it finishes; None when the time bound passes or we stop."""
        deadline = time.monotonic() + self.follow_seconds
        delay = self.poll_seconds
        while True:
            registration = self.catalog.registration(registration_id, correlation_id)
            if registration.get("status") in TERMINAL:
                return registration
            if time.monotonic() + delay > deadline or self.stop.wait(delay):
                return None
            delay = min(delay * 2, 5.0)

    def _write(self, obj: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
        """Merge-patches the status subresource (never the spec); returns the status now stored."""
        current = obj.get("status") or {}
        if st.is_current(current, desired):
            return current
        meta = obj["metadata"]
        try:
            updated = self.api.patch_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"status": desired},
                field_manager=FIELD_MANAGER, _content_type=MERGE_PATCH)
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


def run_worker(queue: WorkQueue, reconciler: Reconciler, stop: threading.Event) -> None:
    while not stop.is_set():
        work = queue.get(timeout=1.0)
        if work is None:
            continue
        key, (event, obj) = work
        try:
            reconciler.handle(event, obj)
            queue.forget(key)
        except (CatalogUnavailable, CatalogRejected, client.ApiException) as exc:
            # CatalogRejected reaching here is an authentication problem or a refused follow-up: retry later.
            delay = queue.retry(key, (event, obj))
            logger.warning("delivery failed, will retry", extra=fields(
                namespace=key[0], name=key[1], event=event, error=str(exc), retry_in_seconds=delay))
        except Exception:
            logger.exception("unexpected error handling a resource", extra=fields(namespace=key[0], name=key[1]))
            queue.retry(key, (event, obj))
        finally:
            queue.done(key)
