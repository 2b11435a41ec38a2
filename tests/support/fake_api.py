"""Pieces of a scripted Kubernetes API server for pytest-httpserver.

No kube-apiserver can run here (none is installable), so the watcher's API-server side is played by
pytest-httpserver: a Store holds the resources and answers status patches like the API server does
(merge-patch of the status subresource, a new resourceVersion), while each list/watch answer is a
scripted step, so the test decides exactly when a bookmark, a timeout or a 410 Gone happens.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

GROUP_PATH = "/apis/kubernaut.ai/v1alpha1"
COLLECTION = f"{GROUP_PATH}/remediationworkflows"


def resource(name: str, namespace: str = "team-a", version: str = "1.0.0", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationWorkflow",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 1},
        "spec": {"version": version, "image": f"ghcr.io/acme/{name}:{version}",
                 "labels": {"signal_type": "OOMKilled", "severity": "critical", "environment": "*",
                            "component": "deployment"}, **spec},
    }


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch."""
    result = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


class Store:
    """Resources by name, with an etcd-like revision counter and a way to wait for a state."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self._revision = itertools.count(10)
        self._changed = threading.Condition()
        self.patches: list[tuple[str, str, str, dict[str, Any]]] = []  # (name, content type, query, body)

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(next(self._revision))
            self.objects[obj["metadata"]["name"]] = obj
            self._changed.notify_all()
            return copy.deepcopy(obj)

    def change_spec(self, name: str, **spec: Any) -> dict[str, Any]:
        obj = copy.deepcopy(self.objects[name])
        obj["spec"].update(spec)
        obj["metadata"]["generation"] += 1
        return self.put(obj)

    def delete(self, name: str) -> dict[str, Any]:
        with self._changed:
            obj = self.objects.pop(name)
            obj["metadata"]["resourceVersion"] = str(next(self._revision))
            return copy.deepcopy(obj)

    def revision(self) -> str:
        return str(next(self._revision))

    def wait_for(self, predicate: Callable[[Store], bool], timeout: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout):
                raise AssertionError("the watcher did not reach the expected state in time")

    def status(self, name: str) -> dict[str, Any]:
        return self.objects.get(name, {}).get("status") or {}

    def patch_status(self, request: Request) -> Response:
        name = request.path.rsplit("/", 2)[-2]
        body = json.loads(request.data)
        with self._changed:
            self.patches.append((name, request.headers.get("Content-Type", ""), request.query_string.decode(), body))
            if name not in self.objects:
                return _json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
        obj = self.objects[name]
        return _json(200, self.put({**obj, "status": merge_patch(obj.get("status") or {}, body["status"])}))

    def list_answer(self) -> Response:
        with self._changed:
            items = [copy.deepcopy(obj) for obj in self.objects.values()]
            revision = self.revision()
        return _json(200, {"apiVersion": "kubernaut.ai/v1alpha1", "kind": "RemediationWorkflowList",
                           "metadata": {"resourceVersion": revision}, "items": items})


class Script:
    """Answers successive GETs of the collection (lists and watches) with scripted steps, then holds."""

    def __init__(self, steps: list[Callable[[Request], Response]]) -> None:
        self.steps = deque(steps)
        self.released = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.args)))
        if self.steps:
            return self.steps.popleft()(request)
        return stream(self._hold())  # the last watch stays open until the test ends

    def _hold(self) -> Iterator[dict[str, Any]]:
        self.released.wait()
        yield from ()


def stream(events: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Response:
    """A watch response: one JSON event per line, flushed as produced; the end of the body is a server timeout."""
    def lines() -> Iterator[bytes]:
        for event in events:
            yield (json.dumps(event) + "\n").encode()

    return Response(lines(), status=200, content_type="application/json")


def gone() -> Response:
    return stream([{"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                "message": "too old resource version", "reason": "Expired",
                                                "code": 410}}])


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def serve(server: HTTPServer, store: Store, script: Script) -> None:
    import re

    server.expect_request(COLLECTION, method="GET").respond_with_handler(script)
    server.expect_request(re.compile(f"^{GROUP_PATH}/namespaces/[^/]+/remediationworkflows/[^/]+/status$"),
                          method="PATCH").respond_with_handler(store.patch_status)


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)
