"""A scripted catalog for the conversation tests (the real one is used by test_end_to_end.py)."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

DIGEST = "sha256:" + "ab" * 32
API_KEY = "rwc_test_key_0123456789"  # the key the watcher tests give the watcher (its key file)


class FakeCatalog:
    """Scripted catalog answers; records every request with its headers."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.gets: list[str] = []
        self.post_failures = 1  # the first POST meets a 503, as during a deployment of the API
        self.polls: dict[str, int] = {}
        # Registrations of resources named slow-* keep running until this is set.
        self.slow_jobs_finish = threading.Event()
        # POST /api/v1/registrations/reconcile: each request (with its arrival time), the next answers'
        # stale uids and disabled workflow ids (each answered once), and whether the endpoint is missing
        # (404, as from a catalog that does not serve it yet).
        self.reconciles: list[tuple[dict[str, Any], dict[str, str], float]] = []
        self.stale: list[str] = []
        self.disabled: list[str] = []
        self.reconcile_missing = False

    def register(self, request: Request) -> Response:
        body = json.loads(request.data)
        self.posts.append((body, dict(request.headers)))
        if self.post_failures:
            self.post_failures -= 1
            return json_response(503, {"type": "service-unavailable", "title": "Service unavailable"})
        obj = body["object"]
        if obj["metadata"]["name"] == "bad" and body["event"] != "DELETED":
            return json_response(400, {"type": "validation-error", "title": "Invalid request",
                               "detail": "The resource is not valid",
                               "errors": [{"path": "$.spec.labels.Team",
                                           "message": "label keys are lower_snake_case"}]})
        registration_id = f"reg-{obj['metadata']['name']}-{obj['metadata']['generation']}-{body['event'].lower()}"
        return json_response(202, {"registration_id": registration_id, "status": "pending",
                           "workflow_id": obj["metadata"]["name"], "version": obj["spec"]["version"]})

    def registration(self, request: Request) -> Response:
        registration_id = request.path.rsplit("/", 1)[-1]
        self.gets.append(registration_id)
        if not registration_id.startswith("reg-"):  # e.g. a registration from a catalog since restored
            return json_response(404, {"type": "not-found", "title": "Not found", "detail": "no such registration"})
        polls = self.polls[registration_id] = self.polls.get(registration_id, 0) + 1
        _, name, generation, _ = registration_id.split("-")
        body = {"registration_id": registration_id, "status": "running", "workflow_id": name,
                "version": "2.0.0" if generation == "2" else "1.0.0", "image": f"ghcr.io/acme/{name}"}
        if polls > 1 and (not name.startswith("slow") or self.slow_jobs_finish.is_set()):
            body.update(status="succeeded", image_digest=DIGEST)
        return json_response(200, body)

    def reconcile(self, request: Request) -> Response:
        self.reconciles.append((json.loads(request.data), dict(request.headers), time.monotonic()))
        if self.reconcile_missing:
            return json_response(404, {"type": "not-found", "title": "Not found", "detail": "no such route"})
        answer = {"disabled": self.disabled, "stale": self.stale}
        self.disabled, self.stale = [], []
        return json_response(200, answer)

    def serve(self, server: HTTPServer) -> None:
        server.expect_request("/api/v1/registrations/reconcile", method="POST").respond_with_handler(self.reconcile)
        server.expect_request("/api/v1/registrations", method="POST").respond_with_handler(self.register)
        server.expect_request(re.compile(r"^/api/v1/registrations/[^/]+$"),
                              method="GET").respond_with_handler(self.registration)


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
