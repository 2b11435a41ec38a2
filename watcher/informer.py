"""List-then-watch of one Kubernetes collection into a cache, and a keyed work queue.

The Python client's ``Watch`` streams one watch request; what client-go adds around it in Go (resume
from the last resourceVersion, bookmarks, relist on 410 Gone, jittered reconnect backoff, a cache and
a de-duplicating work queue) the Python client does not have, hence this module. It knows nothing of
the objects it watches: the RemediationWorkflow resources (watcher/resources.py) and the runner's
PipelineRuns (watcher/runner.py) each hand it a lister and a handler.
"""

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from logging import INFO, WARNING
from typing import Any, Protocol

import urllib3
from kubernetes import client, watch

from watcher.config import log

PAGE_SIZE = 500
Key = tuple[str, str]
# Lists one collection (``limit``/``_continue`` pages); with ``watch=True`` the client's Watch streams it.
Lister = Callable[..., Any]


def key_of(obj: dict[str, Any]) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def custom_objects(api: client.CustomObjectsApi, group: str, version: str, plural: str, namespace: str = "",
                   label_selector: str | None = None) -> Lister:
    """The lister of a custom resource collection: one namespace, or all of them when ``namespace`` is empty."""
    selector = {"label_selector": label_selector} if label_selector else {}

    def list_objects(**kwargs: Any) -> Any:
        if namespace:
            return api.list_namespaced_custom_object(group, version, namespace, plural, **selector, **kwargs)
        return api.list_cluster_custom_object(group, version, plural, **selector, **kwargs)

    return list_objects


def jittered_backoff(failures: int, first: float, cap: float) -> float:
    """The wait after the ``failures``-th failure in a row: doubling from ``first`` up to ``cap``, jittered down
    to half, so that many watchers failing at once do not retry in step."""
    return min(cap, first * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)


class Handler(Protocol):
    """What an informer tells its owner; the cache is already up to date when it is called."""

    def changed(self, obj: dict[str, Any]) -> None:
        """ADDED or MODIFIED; ``obj`` is the newest cached version."""

    def deleted(self, obj: dict[str, Any]) -> None:
        """DELETED; ``obj`` is its last state."""

    def listed(self, gone: list[dict[str, Any]]) -> None:
        """A complete list replaced the cache; ``gone`` vanished while we were not watching."""


class Cache:
    """The newest seen state of every watched resource; workers read the freshest object from it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[Key, dict[str, Any]] = {}

    def store(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Keeps ``obj`` unless a newer version is already cached; returns the cached one."""
        with self._lock:
            cached = self._objects.get(key_of(obj))
            if cached is None or _newer_or_same(obj["metadata"].get("resourceVersion"),
                                                cached["metadata"].get("resourceVersion")):
                self._objects[key_of(obj)] = cached = obj
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


def _newer_or_same(candidate: str | None, current: str | None) -> bool:
    # resourceVersions are opaque, but every real API server uses etcd revisions (integers); when they
    # are not integers "the last one seen wins", which is what watch order gives anyway.
    try:
        return int(candidate or 0) >= int(current or 0)
    except ValueError:
        return True


class WorkQueue:
    """client-go's workqueue semantics: a key is handed to one worker at a time, only its latest item is
    kept while it waits, and a key changed during processing is queued again once the worker is done.

    Delayed adds (client-go's ``AddAfter``) keep at most one waiting entry per key: the earliest time
    wins, so a key requeued from several places is not processed once per place. Waiting entries are
    moved into the queue by the workers' own ``get`` calls, so no thread or timer exists per entry."""

    def __init__(self, max_retry_seconds: float = 300.0) -> None:
        self.max_retry_seconds = max_retry_seconds
        self._lock = threading.Condition()
        self._order: deque[Key] = deque()
        self._items: dict[Key, Any] = {}
        self._processing: set[Key] = set()
        self._failures: dict[Key, int] = {}
        self._waiting: dict[Key, tuple[float, Any]] = {}  # key -> (due, item)
        self._due: list[tuple[float, int, Key]] = []  # heap of waiting entries; superseded ones are skipped
        self._sequence = itertools.count()
        self._closed = False

    def add(self, key: Key, item: Any, replace: bool = True) -> None:
        with self._lock:
            if key in self._items and not replace:
                return
            if key not in self._items and key not in self._processing:
                self._order.append(key)
                self._lock.notify()
            self._items[key] = item

    def add_after(self, key: Key, item: Any, delay: float) -> None:
        """Queues ``item`` once ``delay`` seconds have passed, unless a newer item for ``key`` is queued by
        then. A key already waiting keeps the earlier time and takes the newer item."""
        with self._lock:
            due = time.monotonic() + delay
            waiting = self._waiting.get(key)
            if waiting is not None and waiting[0] <= due:
                self._waiting[key] = (waiting[0], item)
                return
            self._waiting[key] = (due, item)
            heapq.heappush(self._due, (due, next(self._sequence), key))
            self._lock.notify_all()  # waiting workers recompute how long to wait

    def close(self) -> None:
        """Wakes every waiting ``get`` with nothing: the process is stopping."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def get(self, timeout: float) -> tuple[Key, Any] | None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                self._promote(now)
                if self._order:
                    key = self._order.popleft()
                    self._processing.add(key)
                    return key, self._items.pop(key)
                if now >= deadline:
                    return None
                self._lock.wait(min(deadline, self._due[0][0]) - now if self._due else deadline - now)
            return None

    def _promote(self, now: float) -> None:
        """Moves the waiting entries that are due into the queue (the lock is held)."""
        while self._due and self._due[0][0] <= now:
            due, _, key = heapq.heappop(self._due)
            waiting = self._waiting.get(key)
            if waiting is None or waiting[0] != due:  # superseded by an earlier entry for the same key
                continue
            del self._waiting[key]
            self.add(key, waiting[1], replace=False)

    def done(self, key: Key, failed: Any = None) -> float | None:
        """Releases ``key``. A ``failed`` item is queued again after an exponential delay (capped at
        ``max_retry_seconds``) unless a newer item arrived meanwhile; returns that delay."""
        with self._lock:
            self._processing.discard(key)
            if key in self._items:
                self._order.append(key)
                self._lock.notify()
            if failed is None:
                self._failures.pop(key, None)
                return None
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            delay = min(self.max_retry_seconds, 2.0 ** (failures - 1))
            self.add_after(key, failed, delay)
        return delay

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class Informer:
    def __init__(self, name: str, lister: Lister, cache: Cache, handler: Handler, stop: threading.Event,
                 watch_timeout: int = 300) -> None:
        self.name = name  # the collection, in log lines
        self.lister = lister
        self.cache = cache
        self.handler = handler
        self.stop = stop
        self.watch_timeout = watch_timeout
        self.resource_version: str | None = None
        self.synced = threading.Event()  # the first list succeeded
        self.heartbeat = time.monotonic()
        self._watch = watch.Watch()
        self._failures = 0

    @property
    def connected(self) -> bool:
        """Not failing persistently: one dropped watch does not make the watcher unready, three in a row do."""
        return self._failures < 3

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
                    log(INFO, "resourceVersion expired, relisting", collection=self.name,
                        resource_version=self.resource_version)
                    self.resource_version = None
                    continue
                self._back_off(f"API server answered {exc.status} {exc.reason}")
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                self._back_off(f"{type(exc).__name__}: {exc}")

    def shutdown(self) -> None:
        self.stop.set()
        self._watch.stop()

    def _back_off(self, reason: str) -> None:
        if self.stop.is_set():  # shutdown() cut the watch's connection: not a failure
            return
        self._failures += 1
        delay = jittered_backoff(self._failures, 1.0, 60.0)
        log(WARNING, "watch failed, reconnecting", collection=self.name, reason=reason,
            retry_in_seconds=round(delay, 2))
        self.stop.wait(delay)

    def _relist(self) -> None:
        items: list[dict[str, Any]] = []
        page = self.lister(limit=PAGE_SIZE)
        items += page.get("items", [])
        while page["metadata"].get("continue"):
            page = self.lister(limit=PAGE_SIZE, _continue=page["metadata"]["continue"])
            items += page.get("items", [])
        gone = self.cache.replace(items)
        self.resource_version = page["metadata"]["resourceVersion"]
        self._failures = 0
        self.synced.set()
        log(INFO, "listed", collection=self.name, count=len(items), resource_version=self.resource_version)
        self.handler.listed(gone)

    def _watch_once(self) -> None:
        # A randomised server-side timeout (as client-go does) spreads reconnects of many watchers.
        timeout = random.randint(self.watch_timeout, self.watch_timeout * 2)
        for event in self._watch.stream(self.lister, resource_version=self.resource_version,
                                        allow_watch_bookmarks=True, timeout_seconds=timeout,
                                        _request_timeout=(10, timeout + 30)):
            self.heartbeat = time.monotonic()
            self._failures = 0
            obj = event["raw_object"]
            self.resource_version = obj["metadata"]["resourceVersion"]
            if event["type"] == "DELETED":
                self.cache.remove(key_of(obj))
                self.handler.deleted(obj)
            elif event["type"] != "BOOKMARK":
                self.handler.changed(self.cache.store(obj))
