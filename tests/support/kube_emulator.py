"""An in-memory Kubernetes API server for RemediationWorkflow resources, serving real watch streams.

No kube-apiserver can run here. kmock (installed) was considered and does not fit: it recognises a
watch only by ``watch=true`` in lowercase while the Python client sends ``watch=True``, it answers
``resourceVersion`` with a placeholder and has no 410 Gone, and it has no generation or status
subresource semantics, which are exactly what the watcher relies on. This emulator implements just
those semantics, over plain HTTP on loopback:

- list (cluster-wide or per namespace) with the collection's resourceVersion;
- watch from a resourceVersion: replays later events, then streams new ones until ``timeoutSeconds``
  (a BOOKMARK before closing when ``allowWatchBookmarks``); a resourceVersion older than the
  compaction point gets a 410 Gone ERROR event, like etcd compaction;
- ``PATCH .../{name}/status`` with ``application/merge-patch+json`` changes only the status, bumps
  the resourceVersion (not the generation) and emits MODIFIED; a patch that changes nothing emits nothing;
- ``apply``/``delete`` for the test (what ``kubectl`` would do): validation against the CRD's schema,
  the schema's defaults, generation bumped only by spec changes, uid and creationTimestamp.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jsonschema
import yaml

from tests.support.fake_api import merge_patch

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "crds" / "remediationworkflow.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
PREFIX = "/apis/kubernaut.ai/v1alpha1"
COLLECTION = re.compile(rf"^{PREFIX}(?:/namespaces/(?P<ns>[^/]+))?/remediationworkflows$")
STATUS = re.compile(rf"^{PREFIX}/namespaces/(?P<ns>[^/]+)/remediationworkflows/(?P<name>[^/]+)/status$")
Key = tuple[str, str]


class Invalid(Exception):
    """What ``kubectl apply`` would print for a resource the CRD's schema rejects."""


class KubeEmulator:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._objects: dict[Key, dict[str, Any]] = {}
        self._events: list[tuple[int, str, dict[str, Any]]] = []
        self._revision = 100
        self._compacted = 0
        self._closing = False
        self.requests: list[tuple[str, str]] = []  # (method, path?query) of every request served
        self.fail_status_patches = False  # answer status patches with 503, as an overloaded API server does

    # --- what a test does with kubectl ---

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        errors = sorted(jsonschema.Draft7Validator(SCHEMA).iter_errors(obj), key=lambda e: list(e.absolute_path))
        if errors:
            raise Invalid("; ".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors))
        obj["spec"].setdefault("enabled", True)  # the schema's default, applied by the API server
        meta = obj["metadata"]
        meta.setdefault("namespace", "default")
        with self._lock:
            key = (meta["namespace"], meta["name"])
            existing = self._objects.get(key)
            if existing is None:
                meta.update(uid=str(uuid.uuid4()), generation=1,
                            creationTimestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
                obj.pop("status", None)  # the status subresource ignores status on create
                return self._emit("ADDED", key, obj)
            if existing["spec"] == obj["spec"]:
                return copy.deepcopy(existing)
            updated = copy.deepcopy(existing)
            updated["spec"] = obj["spec"]
            updated["metadata"]["generation"] += 1
            return self._emit("MODIFIED", key, updated)

    def delete(self, namespace: str, name: str) -> None:
        with self._lock:
            obj = self._objects[(namespace, name)]
            self._emit("DELETED", (namespace, name), obj)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._objects.get((namespace, name))
            return copy.deepcopy(obj) if obj else None

    def compact(self) -> None:
        """Forgets the event history, as etcd compaction does: resuming from before now gets 410 Gone."""
        with self._lock:
            self._compacted = self._revision
            self._events.clear()

    def wait_for(self, namespace: str, name: str, predicate: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                obj = self._objects.get((namespace, name))
                if obj is not None and predicate(obj):
                    return copy.deepcopy(obj)
                if not self._lock.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"{namespace}/{name} never reached the expected state; now: {obj}")

    # --- the API server side ---

    def _emit(self, kind: str, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        self._revision += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._revision)
        if kind == "DELETED":
            self._objects.pop(key)
        else:
            self._objects[key] = obj
        self._events.append((self._revision, kind, obj))
        self._lock.notify_all()
        return copy.deepcopy(obj)

    def list(self, namespace: str | None) -> dict[str, Any]:
        with self._lock:
            items = [copy.deepcopy(o) for (ns, _), o in sorted(self._objects.items()) if namespace in (None, ns)]
            return {"apiVersion": "kubernaut.ai/v1alpha1", "kind": "RemediationWorkflowList",
                    "metadata": {"resourceVersion": str(self._revision)}, "items": items}

    def watch(self, namespace: str | None, since: int, timeout: float, bookmarks: bool) -> Iterator[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        position = since
        with self._lock:
            if since < self._compacted:
                yield {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                   "reason": "Expired", "code": 410,
                                                   "message": f"too old resource version: {since} ({self._compacted})"}}
                return
        while not self._closing:
            with self._lock:
                pending = [(rv, kind, o) for rv, kind, o in self._events
                           if rv > position and namespace in (None, o["metadata"]["namespace"])]
                if not pending:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closing:
                        break
                    self._lock.wait(timeout=min(remaining, 0.2))
                    continue
            for rv, kind, obj in pending:
                position = rv
                yield {"type": kind, "object": copy.deepcopy(obj)}
        if bookmarks and not self._closing:
            with self._lock:
                position = max(position, self._revision)
            yield {"type": "BOOKMARK", "object": {"kind": "RemediationWorkflow", "apiVersion": "kubernaut.ai/v1alpha1",
                                                  "metadata": {"resourceVersion": str(position)}}}

    def patch_status(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            current = self._objects.get((namespace, name))
            if current is None:
                return None
            status = merge_patch(current.get("status") or {}, patch.get("status") or {})
            if status == (current.get("status") or {}):
                return copy.deepcopy(current)
            return self._emit("MODIFIED", (namespace, name), {**current, "status": status})

    # --- the HTTP server ---

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serves on a loopback port; yields the base URL; closes every open watch on exit."""
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                emulator.requests.append(("GET", self.path))
                url = urlparse(self.path)
                match = COLLECTION.match(url.path)
                if not match:
                    self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                    return
                query = {key: values[-1] for key, values in parse_qs(url.query).items()}
                if query.get("watch", "").lower() != "true":
                    self._json(200, emulator.list(match["ns"]))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                events = emulator.watch(match["ns"], int(query.get("resourceVersion") or 0),
                                        float(query.get("timeoutSeconds") or 60),
                                        query.get("allowWatchBookmarks", "").lower() == "true")
                try:
                    for event in events:
                        self._chunk((json.dumps(event) + "\n").encode())
                    self._chunk(b"")
                except OSError:  # the client went away (the watcher stopped or reconnected)
                    return

            def do_PATCH(self) -> None:
                emulator.requests.append(("PATCH", self.path))
                match = STATUS.match(urlparse(self.path).path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if emulator.fail_status_patches:
                    self._json(503, {"kind": "Status", "code": 503, "reason": "ServiceUnavailable"})
                elif not match:
                    self._json(405, {"kind": "Status", "code": 405, "reason": "MethodNotAllowed"})
                elif self.headers.get("Content-Type") != "application/merge-patch+json":
                    self._json(415, {"kind": "Status", "code": 415, "reason": "UnsupportedMediaType"})
                else:
                    patch = json.loads(body)
                    if set(patch) - {"status"}:  # the status subresource ignores anything else; be strict here
                        self._json(422, {"kind": "Status", "code": 422, "message": "only status may be patched"})
                        return
                    updated = emulator.patch_status(match["ns"], match["name"], patch)
                    if updated is None:
                        self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                    else:
                        self._json(200, updated)

            def _json(self, code: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="kube-emulator", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            with self._lock:
                self._closing = True
                self._lock.notify_all()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
