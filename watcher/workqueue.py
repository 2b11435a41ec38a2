"""A de-duplicating work queue keyed by resource (the client-go workqueue semantics, in a few lines).

Hand-written because the Python client has no informer/workqueue: a key is processed by one worker at
a time, only its latest event is kept while it waits, and a key changed during processing is queued
again once the worker is done with it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

Key = tuple[str, str]


class WorkQueue:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._order: deque[Key] = deque()
        self._items: dict[Key, Any] = {}
        self._processing: set[Key] = set()
        self._failures: dict[Key, int] = {}
        self._closed = False

    def add(self, key: Key, item: Any) -> None:
        """Queues ``item`` for ``key``, replacing an older item that is still waiting."""
        with self._lock:
            if self._closed:
                return
            if key not in self._items and key not in self._processing:
                self._order.append(key)
            self._items[key] = item
            self._lock.notify()

    def retry(self, key: Key, item: Any, base: float = 1.0, cap: float = 300.0) -> float:
        """Re-queues ``item`` after an exponential delay unless a newer item arrived meanwhile."""
        with self._lock:
            failures = self._failures[key] = self._failures.get(key, 0) + 1
        delay = min(cap, base * 2 ** (failures - 1))

        def requeue() -> None:
            with self._lock:
                newer = key in self._items
            if not newer:
                self.add(key, item)

        timer = threading.Timer(delay, requeue)
        timer.daemon = True
        timer.start()
        return delay

    def forget(self, key: Key) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def get(self, timeout: float) -> tuple[Key, Any] | None:
        with self._lock:
            while not self._order:
                if self._closed or not self._lock.wait(timeout):
                    return None
            key = self._order.popleft()
            self._processing.add(key)
            return key, self._items.pop(key)

    def done(self, key: Key) -> None:
        with self._lock:
            self._processing.discard(key)
            if key in self._items:
                self._order.append(key)
                self._lock.notify()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
