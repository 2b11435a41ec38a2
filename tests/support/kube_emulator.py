"""An in-memory Kubernetes API server serving real watch streams: RemediationWorkflows, Tekton PipelineRuns,
Secrets and Events.

No kube-apiserver can run here. kmock (installed) was considered and does not fit: it recognises a
watch only by ``watch=true`` in lowercase while the Python client sends ``watch=True``, it answers
``resourceVersion`` with a placeholder and has no 410 Gone, and it has no generation or status
subresource semantics, which are exactly what the watcher relies on. This emulator implements just
those semantics (this module: the objects; tests/support/kube_http.py: the HTTP side, on loopback):

- one etcd-like revision counter and event history for every kind; list (cluster-wide or per namespace,
  with a label selector) with the collection's resourceVersion; watch from a resourceVersion: replays
  later events, then streams new ones until ``timeoutSeconds`` (a BOOKMARK before closing when
  ``allowWatchBookmarks``); a resourceVersion older than the compaction point gets a 410 Gone ERROR
  event, like etcd compaction;
- create (POST) with uid, creationTimestamp and generation 1 (kinds with a spec), 409 AlreadyExists
  for a name taken; a Secret's ``stringData`` becomes base64 ``data`` as the API server does;
  ``involvedObject`` of an Event in the Event's namespace (422 otherwise);
- ``PATCH`` with ``application/merge-patch+json``: of the object (metadata and spec; a spec change bumps
  the generation) or of ``.../status`` (only the status, the resourceVersion bumps, the generation not),
  each emitting MODIFIED unless nothing changed;
- ``ownerReferences`` kept, and deleting an owner deletes its dependents (the garbage collector's
  background cascade, done at once);
- what a test does with ``kubectl`` (``apply``/``delete`` of resources, validated against the CRD's schema
  with its defaults) and with Tekton (``mark_running``/``mark_succeeded``/``mark_failed`` set a
  PipelineRun's status as Tekton's controller does);
- RBAC, when a test sets ``authorize``: 403 Forbidden for what it does not allow;
- faults: status patches answered 503, creations of a kind failing or hanging, the whole server down.
"""

from __future__ import annotations

import base64
import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.fake_api import merge_patch

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "crds" / "remediationworkflow.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
RESOURCES, PIPELINE_RUNS, SECRETS, EVENTS = "remediationworkflows", "pipelineruns", "secrets", "events"
Key = tuple[str, str, str]  # (plural, namespace, name)


@dataclass(frozen=True)
class Kind:
    plural: str
    group: str  # "" for the core API
    version: str
    kind: str
    status_subresource: bool = False
    generation: bool = False  # has a spec whose changes bump metadata.generation

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS = {kind.plural: kind for kind in (
    Kind(RESOURCES, "kubernaut.ai", "v1alpha1", "RemediationWorkflow", status_subresource=True, generation=True),
    Kind(PIPELINE_RUNS, "tekton.dev", "v1", "PipelineRun", status_subresource=True, generation=True),
    Kind(SECRETS, "", "v1", "Secret"),
    Kind(EVENTS, "", "v1", "Event"),
)}


class Invalid(Exception):
    """What ``kubectl apply`` would print for a resource the CRD's schema rejects."""


class ApiError(Exception):
    """An API server refusal, answered as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": self.code, "reason": self.reason,
                "message": self.message}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def selects(selector: str | None, labels: dict[str, str]) -> bool:
    """Kubernetes equality-based label selectors: ``a``, ``!a``, ``a=b``, ``a==b``, ``a!=b``, comma-separated."""
    for term in filter(None, (part.strip() for part in (selector or "").split(","))):
        if "!=" in term:
            name, value = term.split("!=", 1)
            if labels.get(name.strip()) == value.strip():
                return False
        elif "=" in term:
            name, value = term.replace("==", "=").split("=", 1)
            if labels.get(name.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


class KubeEmulator:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._objects: dict[Key, dict[str, Any]] = {}
        self._history: list[tuple[int, str, str, dict[str, Any]]] = []  # (revision, type, plural, object)
        self._revision = 100
        self._compacted = 0
        self.closing = False
        self.epoch = 0  # bumped by an outage: watches opened before it end at once
        self.requests: list[tuple[str, str]] = []  # (method, path?query) of every request served
        self.fail_status_patches = False  # answer status patches with 503, as an overloaded API server does
        self.failing_creates: set[str] = set()  # plurals whose creations are answered 500 (e.g. {"events"})
        # Plurals whose creations hang until removed from here (or the emulator closes), then are answered 503
        # having created nothing: a request that never reached the storage.
        self.stalled_creates: set[str] = set()
        self.server: Any = None  # the HTTP side (tests/support/kube_http.py) while serving
        # RBAC: (verb, API group, resource, namespace or None) -> allowed? None allows everything. Refused
        # requests get 403 Forbidden and are recorded in ``forbidden``.
        self.authorize: Callable[[str, str, str, str | None], bool] | None = None
        self.forbidden: list[tuple[str, str, str, str | None]] = []

    # --- what a test does with kubectl ---

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        errors = sorted(jsonschema.Draft7Validator(SCHEMA).iter_errors(obj), key=lambda e: list(e.absolute_path))
        if errors:
            raise Invalid("; ".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors))
        obj["spec"].setdefault("enabled", True)  # the schema's default, applied by the API server
        meta = obj["metadata"]
        meta.setdefault("namespace", "default")
        key = (RESOURCES, meta["namespace"], meta["name"])
        with self._lock:
            existing = self._objects.get(key)
            if existing is None:
                return self.create(RESOURCES, meta["namespace"], obj)
            if existing["spec"] == obj["spec"]:
                return copy.deepcopy(existing)
            updated = copy.deepcopy(existing)  # kubectl apply replaces the spec
            updated["spec"] = obj["spec"]
            updated["metadata"]["generation"] += 1
            return self._emit("MODIFIED", key, updated)

    def delete(self, namespace: str, name: str, plural: str = RESOURCES) -> None:
        with self._lock:
            if (plural, namespace, name) not in self._objects:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            self._delete((plural, namespace, name))

    def get(self, namespace: str, name: str, plural: str = RESOURCES) -> dict[str, Any] | None:
        with self._lock:
            obj = self._objects.get((plural, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def objects(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(obj) for (kind, ns, _), obj in sorted(self._objects.items())
                    if kind == plural and namespace in (None, ns)]

    def compact(self) -> None:
        """Forgets the event history, as etcd compaction does: resuming from before now gets 410 Gone."""
        with self._lock:
            self._compacted = self._revision
            self._history.clear()

    def wait_for(self, namespace: str, name: str, predicate: Callable[[dict[str, Any]], Any], timeout: float = 30.0,
                 plural: str = RESOURCES) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                obj = self._objects.get((plural, namespace, name))
                if obj is not None and predicate(obj):
                    return copy.deepcopy(obj)
                if not self._lock.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"{plural} {namespace}/{name} never reached the expected state; now: {obj}")

    # --- what Tekton's controller does to a PipelineRun ---

    def mark_running(self, namespace: str, name: str, started_at: str | None = None) -> dict[str, Any]:
        return self._tekton(namespace, name, "Unknown", "Running", "Tasks Completed: 0 (Failed: 0, Cancelled 0), "
                            "Skipped: 0", started_at=started_at)

    def mark_succeeded(self, namespace: str, name: str, started_at: str | None = None,
                       finished_at: str | None = None) -> dict[str, Any]:
        return self._tekton(namespace, name, "True", "Succeeded", "Tasks Completed: 1 (Failed: 0, Cancelled 0), "
                            "Skipped: 0", started_at=started_at, finished_at=finished_at or now())

    def mark_failed(self, namespace: str, name: str, reason: str = "Failed",
                    message: str = "Tasks Completed: 1 (Failed: 1, Cancelled 0), Skipped: 0",
                    started_at: str | None = None, finished_at: str | None = None) -> dict[str, Any]:
        return self._tekton(namespace, name, "False", reason, message, started_at=started_at,
                            finished_at=finished_at or now())

    def _tekton(self, namespace: str, name: str, state: str, reason: str, message: str, started_at: str | None,
                finished_at: str | None = None) -> dict[str, Any]:
        with self._lock:
            current = self._objects[(PIPELINE_RUNS, namespace, name)].get("status") or {}
            status: dict[str, Any] = {"startTime": started_at or current.get("startTime") or now(),
                                      "conditions": [{"type": "Succeeded", "status": state, "reason": reason,
                                                      "message": message, "lastTransitionTime": now()}]}
            if finished_at:
                status["completionTime"] = finished_at
            return self.patch(PIPELINE_RUNS, namespace, name, {"status": status}, subresource="status")

    # --- the API server's operations (the HTTP side calls these) ---

    def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        kind = KINDS[plural]
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        if (obj.get("apiVersion"), obj.get("kind")) != (kind.api_version, kind.kind):
            raise ApiError(400, "BadRequest", f"expected {kind.api_version} {kind.kind}")
        if not meta.get("name"):
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        meta["namespace"] = namespace
        if kind.plural == EVENTS and (obj.get("involvedObject") or {}).get("namespace") != namespace:
            raise ApiError(422, "Invalid", "involvedObject.namespace: does not match event.namespace")
        if kind.plural == SECRETS:
            values = {k: base64.b64encode(v.encode()).decode() for k, v in (obj.pop("stringData", None) or {}).items()}
            obj["data"] = {**(obj.get("data") or {}), **values}
            obj.setdefault("type", "Opaque")
        with self._lock:
            key = (plural, namespace, meta["name"])
            if key in self._objects:
                group = f".{kind.group}" if kind.group else ""
                raise ApiError(409, "AlreadyExists", f'{plural}{group} "{meta["name"]}" already exists')
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now())
            if kind.generation:
                meta["generation"] = 1
            if kind.status_subresource:
                obj.pop("status", None)  # the status subresource ignores status on create
            return self._emit("ADDED", key, obj)

    def patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any],
              subresource: str | None = None) -> dict[str, Any]:
        """A merge patch of the object, or of its status (``subresource="status"``: only the status changes)."""
        kind = KINDS[plural]
        with self._lock:
            current = self._objects.get((plural, namespace, name))
            if current is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            if subresource == "status":
                if set(patch) - {"status"}:  # the status subresource ignores anything else; be strict here
                    raise ApiError(422, "Invalid", "only status may be patched")
                updated = {**current, "status": merge_patch(current.get("status") or {}, patch["status"])}
            else:
                # The object's own endpoint: the status (a subresource) and identity stay as they are.
                changes = {k: v for k, v in patch.items() if not (k == "status" and kind.status_subresource)}
                updated = merge_patch(current, changes)
                updated["metadata"].update({field: current["metadata"].get(field) for field in
                                            ("name", "namespace", "uid", "creationTimestamp", "generation")
                                            if field in current["metadata"]})
                if kind.generation and updated.get("spec") != current.get("spec"):
                    updated["metadata"]["generation"] += 1
            if updated == current:
                return copy.deepcopy(current)
            return self._emit("MODIFIED", (plural, namespace, name), updated)

    def list(self, plural: str, namespace: str | None, selector: str | None = None) -> dict[str, Any]:
        kind = KINDS[plural]
        with self._lock:
            items = [copy.deepcopy(obj) for (p, ns, _), obj in sorted(self._objects.items())
                     if p == plural and namespace in (None, ns) and selects(selector, _labels(obj))]
            return {"apiVersion": kind.api_version, "kind": f"{kind.kind}List",
                    "metadata": {"resourceVersion": str(self._revision)}, "items": items}

    def watch(self, plural: str, namespace: str | None, since: int, timeout: float, bookmarks: bool,
              selector: str | None = None) -> Iterator[dict[str, Any]]:
        kind = KINDS[plural]
        deadline = time.monotonic() + timeout
        position = since
        with self._lock:
            epoch = self.epoch
            if since < self._compacted:
                yield {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                   "reason": "Expired", "code": 410,
                                                   "message": f"too old resource version: {since} ({self._compacted})"}}
                return
        while not self._ended(epoch):
            with self._lock:
                pending = [(rv, change, o) for rv, change, p, o in self._history
                           if rv > position and p == plural and namespace in (None, o["metadata"]["namespace"])
                           and selects(selector, _labels(o))]
                position = max([position, *(rv for rv, _, _ in pending)])
                if not pending:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._ended(epoch):
                        break
                    self._lock.wait(timeout=min(remaining, 0.2))
                    continue
            for _, change, obj in pending:
                yield {"type": change, "object": copy.deepcopy(obj)}
        if bookmarks and not self._ended(epoch):
            with self._lock:
                position = max(position, self._revision)
            yield {"type": "BOOKMARK", "object": {"kind": kind.kind, "apiVersion": kind.api_version,
                                                  "metadata": {"resourceVersion": str(position)}}}

    def _ended(self, epoch: int) -> bool:
        return self.closing or self.epoch != epoch

    def _emit(self, change: str, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        self._revision += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._revision)
        if change == "DELETED":
            self._objects.pop(key)
        else:
            self._objects[key] = obj
        self._history.append((self._revision, change, key[0], obj))
        self._lock.notify_all()
        return copy.deepcopy(obj)

    def _delete(self, key: Key) -> None:
        """Deletes the object, then its dependents (those naming its uid in their ownerReferences)."""
        obj = self._emit("DELETED", key, self._objects[key])
        uid = obj["metadata"]["uid"]
        for dependent, other in list(self._objects.items()):
            owners = other["metadata"].get("ownerReferences") or []
            if dependent in self._objects and any(owner.get("uid") == uid for owner in owners):
                self._delete(dependent)

    # --- serving ---

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serves on a loopback port; yields the base URL; closes every open watch on exit."""
        from tests.support.kube_http import KubeHttpServer

        self.server = KubeHttpServer(self)
        try:
            yield self.server.start()
        finally:
            with self._lock:
                self.closing = True
                self._lock.notify_all()
            self.server.stop()

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The API server goes away: connections refused, open connections cut; back on the same port after."""
        with self._lock:
            self.epoch += 1
            self._lock.notify_all()
        self.server.stop()
        try:
            yield
        finally:
            self.server.start()


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}
