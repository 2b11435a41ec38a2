"""List-then-watch of RemediationWorkflow resources into a local cache and the work queue.

The Python client's ``Watch`` streams one watch request; the informer around it (resume from the last
resourceVersion, bookmarks, relist on 410 Gone, jittered reconnect backoff, periodic resync) is what
client-go provides in Go and the Python client does not, hence this module.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import urllib3
from kubernetes import client, watch

from watcher.logs import fields, logger
from watcher.workqueue import Key, WorkQueue

GROUP, VERSION, PLURAL = "kubernaut.ai", "v1alpha1", "remediationworkflows"
SYNC, DELETED = "SYNC", "DELETED"
PAGE_SIZE = 500


def key_of(obj: dict[str, Any]) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def needs_work(obj: dict[str, Any]) -> bool:
    """The status does not yet describe this generation's registration, or one is still pending."""
    status = obj.get("status") or {}
    return status.get("observedGeneration") != obj["metadata"].get("generation") or status.get("phase") == "Pending"


def _newer_or_same(candidate: str | None, current: str | None) -> bool:
    # resourceVersions are opaque, but every real API server uses etcd revisions (integers); when they
    # are not integers we fall back to "the last one seen wins", which is what watch order gives anyway.
    try:
        return int(candidate or 0) >= int(current or 0)
    except ValueError:
        return True


class Cache:
    """The last seen state of every watched resource; workers read the freshest object from it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[Key, dict[str, Any]] = {}

    def store(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Keeps ``obj`` unless a newer version is already cached; returns the cached one."""
        key = key_of(obj)
        with self._lock:
            cached = self._objects.get(key)
            if cached is None or _newer_or_same(obj["metadata"].get("resourceVersion"),
                                                cached["metadata"].get("resourceVersion")):
                self._objects[key] = cached = obj
            return cached

    def remove(self, key: Key) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def get(self, key: Key) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get(key)

    def replace(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replaces the whole cache after a relist; returns the objects that disappeared meanwhile."""
        with self._lock:
            fresh = {key_of(obj): obj for obj in objects}
            gone = [obj for key, obj in self._objects.items() if key not in fresh]
            self._objects = fresh
            return gone

    def values(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.values())


class Informer:
    def __init__(self, api: client.CustomObjectsApi, namespace: str, cache: Cache, queue: WorkQueue,
                 stop: threading.Event, watch_timeout: int = 300, max_backoff: float = 60.0) -> None:
        self.api = api
        self.namespace = namespace
        self.cache = cache
        self.queue = queue
        self.stop = stop
        self.watch_timeout = watch_timeout
        self.max_backoff = max_backoff
        self.resource_version: str | None = None
        self.synced = threading.Event()  # the first list succeeded
        self.heartbeat = time.monotonic()
        self._watch: watch.Watch | None = None
        self._failures = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                if self.resource_version is None:
                    self._relist()
                self._watch_once()
                self._failures = 0
            except client.ApiException as exc:
                if exc.status == 410:
                    logger.info("resourceVersion expired, relisting",
                                extra=fields(resource_version=self.resource_version))
                    self.resource_version = None
                    continue
                self._back_off(f"API server answered {exc.status} {exc.reason}")
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                self._back_off(f"{type(exc).__name__}: {exc}")

    @property
    def connected(self) -> bool:
        """Not failing persistently: one dropped watch does not make the watcher unready, three in a row do."""
        return self._failures < 3

    def shutdown(self) -> None:
        self.stop.set()
        if self._watch is not None:
            self._watch.stop()

    def resync(self) -> int:
        """Queues every cached resource whose status lags its generation; returns how many."""
        lagging = [obj for obj in self.cache.values() if needs_work(obj)]
        for obj in lagging:
            self.queue.add(key_of(obj), (SYNC, obj))
        return len(lagging)

    def _back_off(self, reason: str) -> None:
        self._failures += 1
        delay = min(self.max_backoff, 2 ** (self._failures - 1)) * random.uniform(0.5, 1.0)
        logger.warning("watch failed, reconnecting", extra=fields(reason=reason, retry_in_seconds=round(delay, 2)))
        self.stop.wait(delay)

    def _relist(self) -> None:
        items, resource_version = [], None
        token: str | None = None
        while True:
            page = self._list(limit=PAGE_SIZE, _continue=token) if token else self._list(limit=PAGE_SIZE)
            items.extend(page.get("items", []))
            token = page["metadata"].get("continue")
            resource_version = page["metadata"]["resourceVersion"]
            if not token:
                break
        for obj in self.cache.replace(items):
            # Deleted while we were not watching: the last known state is all there is to forward.
            self.queue.add(key_of(obj), (DELETED, obj))
        for obj in items:
            if needs_work(obj):
                self.queue.add(key_of(obj), (SYNC, obj))
        self.resource_version = resource_version
        self._failures = 0
        self.synced.set()
        logger.info("listed", extra=fields(count=len(items), resource_version=resource_version))

    def _list(self, **kwargs: Any) -> dict[str, Any]:
        if self.namespace:
            return self.api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, **kwargs)
        return self.api.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)

    def _watch_once(self) -> None:
        """One watch request from the last resourceVersion, until the server ends it (timeout) or we stop."""
        self._watch = watch.Watch()
        # A randomised server-side timeout (as client-go does) spreads reconnects of many watchers.
        timeout = random.randint(self.watch_timeout, self.watch_timeout * 2)
        for event in self._events(timeout):
            self.heartbeat = time.monotonic()
            self._failures = 0
            obj = event["raw_object"]
            self.resource_version = obj["metadata"]["resourceVersion"]
            if event["type"] == "BOOKMARK":
                continue
            if event["type"] == DELETED:
                self.cache.remove(key_of(obj))
                self.queue.add(key_of(obj), (DELETED, obj))
            elif needs_work(self.cache.store(obj)):
                self.queue.add(key_of(obj), (SYNC, obj))

    def _events(self, timeout: int) -> Iterator[dict[str, Any]]:
        args = (GROUP, VERSION, self.namespace, PLURAL) if self.namespace else (GROUP, VERSION, PLURAL)
        method = self.api.list_namespaced_custom_object if self.namespace else self.api.list_cluster_custom_object
        assert self._watch is not None
        yield from self._watch.stream(
            method, *args, resource_version=self.resource_version, allow_watch_bookmarks=True,
            timeout_seconds=timeout, _request_timeout=(10, timeout + 30),
        )
