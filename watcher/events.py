"""Kubernetes Events: the cluster's audit trail of what the watcher did, so ``kubectl describe`` answers
"did my workflow register, did my remediation run" without the catalog's logs.

core/v1 Events rather than events.k8s.io/v1: they are what ``kubectl describe`` and ``kubectl get
events`` show on every cluster version, the client has a typed call for them, and the object is
small (involvedObject, reason, message, type). Both APIs store the same objects, so nothing is lost.

Best effort: ``record`` only puts the Event on a bounded queue that one thread sends, so a slow or
failing Events API never delays a registration or a report; when the queue is full, or the API
refuses, the Event is dropped with a log line. Names are derived from what the Event is about (the
object's uid and an identity such as "registration r1 finished"), so the same outcome recorded again,
by a retry or a restarted watcher, is refused as AlreadyExists instead of shown twice.
"""

import hashlib
import queue
import re
import threading
from datetime import UTC, datetime
from logging import DEBUG, WARNING
from typing import Any

from kubernetes import client

from watcher.config import log

COMPONENT = "remediation-workflow-watcher"
MAX_MESSAGE = 1024  # the API server's limit on an Event's note
_NAME_EDGE = re.compile(r"[^a-z0-9]+$")


def involved(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """The ``involvedObject`` reference of a namespaced object (list items need not carry their kind)."""
    meta = obj["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "namespace": meta["namespace"],
            "uid": meta.get("uid")}


def event_name(reference: dict[str, Any], identity: str) -> str:
    """``<object name>.<16 hex>``: a DNS subdomain, the same for the same (object, identity)."""
    digest = hashlib.sha256(f"{reference.get('uid')}/{identity}".encode()).hexdigest()[:16]
    return f"{_NAME_EDGE.sub('', reference['name'][:200])}.{digest}"


class EventRecorder:
    queue_size = 1000
    request_timeout = (5, 10)  # connect, read: a hanging API server holds the sending thread this long at most

    def __init__(self, api_client: client.ApiClient, stop: threading.Event, instance: str) -> None:
        self.api = client.CoreV1Api(api_client)
        self.stop = stop
        self.instance = instance
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=self.queue_size)

    def record(self, reference: dict[str, Any], reason: str, message: str, identity: str,
               warning: bool = False) -> None:
        """Queues an Event on the object ``reference`` names; never blocks, never raises."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": event_name(reference, identity), "namespace": reference["namespace"]},
                 "involvedObject": reference, "reason": reason, "message": message[:MAX_MESSAGE],
                 "type": "Warning" if warning else "Normal", "count": 1, "firstTimestamp": now,
                 "lastTimestamp": now, "source": {"component": COMPONENT, "host": self.instance},
                 "reportingComponent": COMPONENT, "reportingInstance": self.instance}
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log(WARNING, "event dropped: too many waiting", reason=reason, **_ids(event))

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                event = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            self._send(event)

    def _send(self, event: dict[str, Any]) -> None:
        try:
            self.api.create_namespaced_event(event["metadata"]["namespace"], event,
                                             _request_timeout=self.request_timeout)
        except client.ApiException as exc:
            if exc.status == 409:  # recorded before (a retry or a restart): once is enough
                log(DEBUG, "event already recorded", reason=event["reason"], **_ids(event))
                return
            log(WARNING, "event not recorded", reason=event["reason"], error=f"{exc.status} {exc.reason}",
                **_ids(event))
        except Exception as exc:  # the API server unreachable, or anything else: an Event is never worth a crash
            log(WARNING, "event not recorded", reason=event["reason"], error=f"{type(exc).__name__}: {exc}",
                **_ids(event))


def _ids(event: dict[str, Any]) -> dict[str, Any]:
    reference = event["involvedObject"]
    return {"namespace": reference["namespace"], "name": reference["name"], "kind": reference["kind"]}
