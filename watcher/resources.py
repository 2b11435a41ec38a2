"""The RemediationWorkflow resources: which ones need work, and the informer handler that queues them.

Queue items are ``(what, obj)``: SYNC brings the status up to date; STALE means the catalog lacks this
generation, so it is delivered even if the status says it is done; DELETED forwards the deletion of
the object carried.
"""

from collections.abc import Callable
from typing import Any

from watcher.informer import Cache, WorkQueue, key_of

GROUP, VERSION, PLURAL, KIND = "kubernaut.ai", "v1alpha1", "remediationworkflows", "RemediationWorkflow"
SYNC, STALE, DELETED = "SYNC", "STALE", "DELETED"


def needs_work(obj: dict[str, Any]) -> bool:
    """The status does not yet describe this generation's registration, or one is still pending."""
    status = obj.get("status") or {}
    return status.get("observedGeneration") != obj["metadata"].get("generation") or status.get("phase") == "Pending"


class ResourceEvents:
    """The informer's handler for the resources: lagging ones and deletions go to the work queue."""

    def __init__(self, cache: Cache, queue: WorkQueue, on_listed: Callable[[], None] | None = None) -> None:
        self.cache = cache
        self.queue = queue
        self.on_listed = on_listed  # called after every complete list: the cache then holds every live resource

    def changed(self, obj: dict[str, Any]) -> None:
        if needs_work(obj):
            self.queue.add(key_of(obj), (SYNC, obj))

    def deleted(self, obj: dict[str, Any]) -> None:
        self.queue.add(key_of(obj), (DELETED, obj))

    def listed(self, gone: list[dict[str, Any]]) -> None:
        for obj in gone:  # deleted while we were not watching: the last known state is all there is to forward
            self.deleted(obj)
        self.resync()
        if self.on_listed is not None:
            self.on_listed()

    def resync(self) -> int:
        """Queues every cached resource that still needs work; returns how many."""
        lagging = [obj for obj in self.cache.values() if needs_work(obj)]
        for obj in lagging:
            self.queue.add(key_of(obj), (SYNC, obj))
        return len(lagging)
