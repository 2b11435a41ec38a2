"""Level-triggered reconciliation with the catalog: the complete live set, not only events.

Events alone miss whatever happens while no watcher runs (a resource deleted during a restart keeps
its workflow enabled). So after every complete list (start, relist after 410 Gone) and on every
resync, the watcher reports every resource it sees in its scope to
``POST /api/v1/registrations/reconcile``; the catalog disables the workflows whose resource is gone
and names the resources whose generation it has not registered (``stale``), which are delivered again.

Requests are coalesced: asking while one is in flight or waiting to be retried leads to one more
reconciliation with the cache as it is then, never a backlog. It runs on its own thread, so a catalog
without the endpoint, or refusing it, delays nothing but the reconciliation (retried with backoff).
"""

import threading
import uuid
from logging import ERROR, INFO, WARNING
from typing import Any

from watcher.catalog import CatalogClient, CatalogRejected, CatalogUnavailable
from watcher.config import log
from watcher.informer import Cache, WorkQueue, jittered_backoff, key_of
from watcher.resources import STALE

LOGGED_IDS = 100  # ids listed in the log line (the counts are always complete)


class LiveSync:
    # First retry delay after a failed reconciliation, doubled up to the cap, jittered.
    first_retry_seconds, max_retry_seconds = 1.0, 300.0

    def __init__(self, catalog: CatalogClient, cache: Cache, queue: WorkQueue, namespace: str,
                 stop: threading.Event) -> None:
        self.catalog = catalog
        self.cache = cache
        self.queue = queue
        self.namespace = namespace or None  # the catalog's scope: one namespace, or null for all
        self.stop = stop
        self._wanted = threading.Event()

    def request(self) -> None:
        """Asks for a reconciliation with the cache's content (call when the cache holds a complete list)."""
        self._wanted.set()

    def run(self) -> None:
        failures = 0
        while not self.stop.is_set():
            if not failures and not self._wanted.wait(timeout=1.0):
                continue
            self._wanted.clear()
            try:
                self.reconcile()
            except Exception as exc:
                failures += 1
                delay = jittered_backoff(failures, self.first_retry_seconds, self.max_retry_seconds)
                # The catalog failing or refusing (e.g. not yet serving the endpoint) is expected; else a bug.
                expected = isinstance(exc, CatalogUnavailable | CatalogRejected)
                log(WARNING if expected else ERROR, "reconciliation failed, will retry", exc_info=not expected,
                    scope=self.namespace or "*", error=str(exc), retry_in_seconds=round(delay, 2))
                self.stop.wait(delay)
            else:
                failures = 0

    def reconcile(self) -> None:
        """One reconciliation; raises when the catalog did not answer it (nothing is then re-delivered)."""
        objects = sorted(self.cache.values(), key=key_of)
        live = [{"uid": obj["metadata"].get("uid"), "namespace": obj["metadata"].get("namespace"),
                 "name": obj["metadata"].get("name"), "generation": obj["metadata"].get("generation")}
                for obj in objects]
        correlation_id = f"reconcile.{uuid.uuid4()}"
        answer = self.catalog.reconcile(self.namespace, live, correlation_id)
        disabled = [str(workflow_id) for workflow_id in answer.get("disabled") or []]
        stale = {str(uid) for uid in answer.get("stale") or []}
        for obj in objects:
            if obj["metadata"].get("uid") in stale:
                self._deliver_again(obj)
        log(INFO, "reconciled", scope=self.namespace or "*", live_count=len(live), disabled_count=len(disabled),
            stale_count=len(stale), disabled=disabled[:LOGGED_IDS], stale=sorted(stale)[:LOGGED_IDS],
            correlation_id=correlation_id)

    def _deliver_again(self, obj: dict[str, Any]) -> None:
        latest: dict[str, Any] = self.cache.get(key_of(obj)) or {}
        # Deleted or recreated since the snapshot: its own events (queued by the informer) cover it.
        if latest.get("metadata", {}).get("uid") == obj["metadata"].get("uid"):
            self.queue.add(key_of(obj), (STALE, latest))
