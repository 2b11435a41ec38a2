"""A scripted catalog for the watcher's tests (the real one is used by test_end_to_end.py).

Registrations: scripted answers (503, 400, running/succeeded) the real catalog would give only by chance.

Executions (the runner's endpoints, ``FakeExecutions``): a fake, kept beside the real catalog for what the real one
cannot be made to do on cue (answer every runner request with 503, refuse one execution's reports with 403 or 404,
hold a claim open for a chosen time, fail an execution by itself at a chosen moment). It follows the runner
contract as the real catalog implements it (docs/watcher.md, "The runner": the request and answer shapes, leases
and their lapses, 409 once final; a claim hands back the pending executions the same runner id holds besides `max`
new ones, and its long poll waits only for new ones), and records every request so the tests can compare the
runner's behaviour with it. The runner against the real catalog: tests/watcher/test_runner_end_to_end.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from chalicelib.domain.executions import FAILED, FINAL, PENDING, RUNNER_LOST, RUNNING, SUCCEEDED, Target
from chalicelib.domain.limits import MAX_LEASE_LAPSES
from chalicelib.domain.pipeline_run import build_pipeline_run

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
        self.executions = FakeExecutions()

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
        self.executions.serve(server)


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


IMAGE = "ghcr.io/acme/restart@sha256:" + "cd" * 32


@dataclass
class FakeExecution:
    execution_id: str
    pipeline_run: dict[str, Any]
    sealed: dict[str, str] | None  # the writeOnly values, held until the runner reports running
    status: str = PENDING
    holder: str | None = None  # the runner holding the lease
    lease_until: float = 0.0  # monotonic
    lapses: int = 0
    result: dict[str, Any] = field(default_factory=dict)  # reason, message, pipeline_run, started_at, finished_at

    @property
    def secret_name(self) -> str:
        return f"kubernaut-exec-{self.execution_id}"


class FakeExecutions:
    """``POST /api/v1/executions/claim`` and ``PATCH /api/v1/executions/{id}`` for one cluster's runner."""

    lease_seconds = 60.0  # CLAIM_LEASE_SECONDS
    max_wait = 20.0  # a claim waits at most this long (tests shorten it; the runner just claims again)

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.items: dict[str, FakeExecution] = {}
        self.claims: list[tuple[dict[str, Any], list[str], float]] = []  # (body, execution ids, monotonic time)
        self.reports: list[tuple[str, dict[str, Any], int]] = []  # (execution id, body, HTTP status answered)
        self.lapsed: list[str] = []  # execution ids, once per lapsed lease
        self.most_held: dict[str, int] = {}  # runner id -> most executions it held at once (leased, not final)
        self.unavailable = False  # answer every runner request with 503, as during an outage of the API
        self.refuse: dict[str, int] = {}  # execution id -> the status its reports get (403, 404)

    # --- what a test does (POST /executions, as the agent would) ---

    def add(self, parameters: dict[str, str] | None = None, secrets: dict[str, str] | None = None) -> str:
        """A pending execution; ``secrets`` are writeOnly parameters (reaching the step from the claim's Secret)."""
        execution_id = str(uuid.uuid4())
        parameters = parameters or {"TARGET_DEPLOYMENT": "api"}
        names = {**parameters, **(secrets or {})}
        run = build_pipeline_run(
            execution_id=execution_id, workflow_id="restart-pod", version="1.0.0", image=IMAGE,
            schema={"properties": {name: {"type": "string", "description": name} for name in names}},
            values=parameters, incident_id="inc-1", target=Target("Deployment", "api", "shop"))
        execution = FakeExecution(execution_id, run, dict(secrets) if secrets else None)
        step = run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]
        for name in sorted(secrets or {}):
            step["env"].append({"name": name, "valueFrom": {"secretKeyRef": {"name": execution.secret_name,
                                                                             "key": name}}})
        with self._lock:
            self.items[execution_id] = execution
            self._lock.notify_all()
        return execution_id

    def get(self, execution_id: str) -> FakeExecution:
        with self._lock:
            self._expire()
            return self.items[execution_id]

    def finish(self, execution_id: str, status: str, reason: str) -> None:
        """The catalog ends an execution by itself (e.g. ``runner-lost``): later reports get 409."""
        with self._lock:
            self.items[execution_id].status = status
            self.items[execution_id].result["reason"] = reason

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                if not self._lock.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic()))) and \
                        time.monotonic() > deadline:
                    raise AssertionError("the runner did not bring the catalog to the expected state in time")
                self._expire()

    def reported(self, execution_id: str) -> list[str]:
        """The statuses the catalog accepted for the execution, in order (heartbeats included)."""
        with self._lock:
            return [body["status"] for eid, body, code in self.reports if eid == execution_id and code == 200]

    # --- the endpoints ---

    def claim(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        body = json.loads(request.data)
        runner_id, most, wait = body.get("runner_id"), body.get("max", 1), body.get("wait_seconds", 0)
        if not (isinstance(runner_id, str) and 1 <= len(runner_id) <= 253 and isinstance(most, int)
                and 1 <= most <= 10 and isinstance(wait, int) and 0 <= wait <= 20) or set(body) - {
                    "runner_id", "max", "wait_seconds"}:
            return json_response(400, {"type": "validation-error", "title": "Invalid request"})
        deadline = time.monotonic() + min(wait, self.max_wait)
        with self._lock:
            while True:
                self._expire()
                # New: pending or running with no live lease. Held: pending, leased to this runner (handed back
                # besides the new ones, and not waited for).
                new = [e for e in self.items.values() if e.status in (PENDING, RUNNING) and e.holder is None]
                held = [e for e in self.items.values() if e.status == PENDING and e.holder == runner_id]
                if new or time.monotonic() >= deadline:
                    break
                self._lock.wait(timeout=min(0.1, deadline - time.monotonic()))
            chosen = held + new[:most]
            for execution in chosen:
                execution.holder, execution.lease_until = runner_id, time.monotonic() + self.lease_seconds
            self.claims.append((body, [e.execution_id for e in chosen], time.monotonic()))
            held = sum(1 for e in self.items.values() if e.holder == runner_id and e.status not in FINAL)
            self.most_held[runner_id] = max(self.most_held.get(runner_id, 0), held)
            expires = (datetime.now(UTC) + timedelta(seconds=self.lease_seconds)).isoformat(timespec="milliseconds")
            items = [{"execution_id": e.execution_id, "status": e.status, "pipeline_run": e.pipeline_run,
                      "secret": self._secret(e), "lease_expires_at": expires.replace("+00:00", "Z")} for e in chosen]
            self._lock.notify_all()
        return json_response(200, {"items": items})

    def report(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        execution_id = request.path.rsplit("/", 1)[-1]
        body = json.loads(request.data)
        with self._lock:
            self._expire()
            answer = self._transition(execution_id, body)
            self.reports.append((execution_id, body, answer.status_code))
            self._lock.notify_all()
        return answer

    def _transition(self, execution_id: str, body: dict[str, Any]) -> Response:
        allowed = {"status", "message", "reason", "pipeline_run", "started_at", "finished_at"}
        if body.get("status") not in (RUNNING, SUCCEEDED, FAILED) or set(body) - allowed:
            return json_response(400, {"type": "validation-error", "title": "Invalid request"})
        if execution_id in self.refuse:
            return json_response(self.refuse[execution_id], {"type": "forbidden", "title": "Refused"})
        execution = self.items.get(execution_id)
        if execution is None:
            return json_response(404, {"type": "not-found", "title": "Not found"})
        if execution.status in FINAL:
            return json_response(409, {"type": "invalid-transition", "title": "Invalid transition",
                                       "detail": f"the execution is already {execution.status}"})
        if body["status"] == RUNNING:
            execution.sealed = None  # delivered in the Secret: the catalog deletes its copy
        execution.status = body["status"]
        execution.result.update({k: v for k, v in body.items() if k != "status"})
        execution.lease_until = time.monotonic() + self.lease_seconds  # a report renews the lease
        return json_response(200, {"execution_id": execution_id, "status": execution.status})

    def _secret(self, execution: FakeExecution) -> dict[str, Any] | None:
        if execution.sealed is None:
            return None
        return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": execution.secret_name,
                             "labels": {"kubernaut.ai/execution-id": execution.execution_id}},
                "stringData": dict(execution.sealed)}

    def _expire(self) -> None:
        """Leases that ended with no report: claimable again, the third time failed as runner-lost."""
        now = time.monotonic()
        for execution in self.items.values():
            if execution.holder and execution.status not in FINAL and execution.lease_until < now:
                execution.holder = None
                execution.lapses += 1
                self.lapsed.append(execution.execution_id)
                if execution.lapses >= MAX_LEASE_LAPSES:
                    execution.status, execution.result["reason"] = FAILED, RUNNER_LOST

    def _refused(self, request: Request) -> Response | None:
        if self.unavailable:
            return json_response(503, {"type": "service-unavailable", "title": "Service unavailable"})
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return json_response(401, {"type": "unauthorized", "title": "Unauthorized"})
        return None

    def serve(self, server: HTTPServer) -> None:
        server.expect_request("/api/v1/executions/claim", method="POST").respond_with_handler(self.claim)
        server.expect_request(re.compile(r"^/api/v1/executions/[^/]+$"), method="PATCH").respond_with_handler(
            self.report)
