"""The runner: this cluster's executions run here, and their outcome goes back to the catalog by itself.

Three parts, on their own threads:
- the **claim loop** asks ``POST /api/v1/executions/claim`` for as many executions as it has free slots
  (``RUNNER_CONCURRENCY`` claimed or running at once), waiting ``CLAIM_WAIT_SECONDS`` at the catalog (a long
  poll) and pausing ``CLAIM_INTERVAL_SECONDS`` after a claim that brought nothing new, but only while the
  PipelineRuns are listed and watched, so it never claims what it could not create and follow;
- an **informer** (watcher/informer.py, as for the resources) lists then watches the PipelineRuns of
  ``RUN_NAMESPACE`` labelled ``kubernaut.ai/execution-id``;
- **workers** take one PipelineRun at a time from a keyed work queue and bring it up to date: create what a
  claim asks for (Secret, PipelineRun, then the Secret's ownerReference to the run; AlreadyExists is
  success), then report the run's state when it differs from the last accepted report, and re-send
  ``running`` every third of the lease as a heartbeat.

Level triggered: a worker looks at the state (the claim, the cached PipelineRun, the last accepted report),
never at which event woke it. After a restart the first list hands every labelled PipelineRun to the
workers, so whatever finished meanwhile is reported (an execution already final in the catalog answers
409: nothing more is sent for it), and the first claim (which does not wait) returns the pending executions
the same runner id still holds, whose objects are then created (or found) again. The catalog or the API
server failing is retried with a jittered backoff (at most ``max_retry_seconds`` apart), never a crash.
"""

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from logging import DEBUG, ERROR, INFO, WARNING
from typing import Any

import urllib3
from kubernetes import client

from watcher import tekton
from watcher.catalog import CatalogClient, CatalogRejected, CatalogUnavailable
from watcher.config import WatcherConfig, log
from watcher.events import EventRecorder
from watcher.informer import Cache, Informer, Key, WorkQueue, custom_objects, jittered_backoff, key_of
from watcher.tekton import FAILED, FINAL, GROUP, KIND, PLURAL, RUNNING, SUCCEEDED, VERSION, Claim, InvalidClaim

SYNC = "SYNC"  # the one kind of work item: bring this PipelineRun's execution up to date
DEFAULT_LEASE_SECONDS = 60.0  # the catalog's default CLAIM_LEASE_SECONDS, until a claim says otherwise
EXPECTED = (CatalogUnavailable, client.ApiException, urllib3.exceptions.HTTPError, OSError)
EVENTS = {RUNNING: ("ExecutionRunning", False), SUCCEEDED: ("ExecutionSucceeded", False),
          FAILED: ("ExecutionFailed", True)}


@dataclass
class Execution:
    """What the runner knows of one execution it is responsible for (claimed, or found running)."""
    execution_id: str
    claim: Claim | None  # until its objects exist: the claim is the only place the Secret's values are held
    lease_seconds: float
    renewed_at: float  # monotonic time of the claim or the last accepted report (each renews the lease)
    reported: dict[str, Any] | None = None  # the last report the catalog accepted


class Runner:
    first_retry_seconds, max_retry_seconds = 1.0, 30.0
    request_timeout = (10, 30)  # connect, read: for each call to the API server

    def __init__(self, config: WatcherConfig, catalog: CatalogClient, api_client: client.ApiClient,
                 events: EventRecorder, stop: threading.Event, watch_timeout: int = 300) -> None:
        self.namespace = config.run_namespace
        self.runner_id = config.runner_id
        self.concurrency = config.runner_concurrency
        self.claim_wait_seconds = config.claim_wait_seconds
        self.claim_interval_seconds = config.claim_interval_seconds
        self.catalog = catalog
        self.events = events
        self.stop = stop
        self.runs = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.cache = Cache()
        self.queue = WorkQueue(max_retry_seconds=self.max_retry_seconds)
        lister = custom_objects(self.runs, GROUP, VERSION, PLURAL, self.namespace, tekton.EXECUTION_LABEL)
        self.informer = Informer(PLURAL, lister, self.cache, self, stop, watch_timeout)
        self.heartbeat = time.monotonic()  # of the claim loop, for /healthz
        self.lease_seconds = DEFAULT_LEASE_SECONDS  # the latest a claim gave: the best guess for runs found later
        self._slots = threading.Condition()
        self._active: dict[Key, Execution] = {}  # what takes a slot: claimed, created or running, not yet final
        self._done: set[Key] = set()  # runs whose final report was delivered or refused: nothing more to send

    # --- the informer's handler: every change means "look at this run again" ---

    def changed(self, obj: dict[str, Any]) -> None:
        self.queue.add(key_of(obj), SYNC)

    deleted = changed

    def listed(self, gone: list[dict[str, Any]]) -> None:
        for obj in [*self.cache.values(), *gone]:
            self.queue.add(key_of(obj), SYNC)

    # --- the claim loop ---

    def claim_loop(self) -> None:
        failures = 0
        recovered = False  # the first claim does not wait: it hands back what this runner id held before a restart
        while not self.stop.is_set():
            self.heartbeat = time.monotonic()
            free = self._free_slots()
            if not free:
                continue
            try:
                # The catalog hands back the pending executions this runner id holds besides `max` new ones, and
                # waits only for new ones: so `max` is the free slots.
                wait = self.claim_wait_seconds if recovered else 0
                items, answered = self.catalog.claim(self.runner_id, free, wait)
            except Exception as exc:
                failures += 1
                delay = jittered_backoff(failures, self.first_retry_seconds, self.max_retry_seconds)
                expected = isinstance(exc, CatalogUnavailable | CatalogRejected)
                log(WARNING if expected else ERROR, "claim failed, will retry", exc_info=not expected,
                    runner_id=self.runner_id, error=str(exc), retry_in_seconds=round(delay, 2))
                self.stop.wait(delay)
                continue
            failures, recovered = 0, True
            new = sum(self._accept(item, answered) for item in items)
            if not new:  # nothing to run: ask again after the interval (a backlog is claimed without a pause)
                self.stop.wait(self.claim_interval_seconds)

    def _free_slots(self) -> int:
        """How many slots are free, once the PipelineRuns are listed and watched (waits up to a second for one)."""
        if not (self.informer.synced.is_set() and self.informer.connected):
            self.stop.wait(1.0)
            return 0
        with self._slots:
            self._slots.wait_for(lambda: len(self._active) < self.concurrency or self.stop.is_set(), timeout=1.0)
            return 0 if self.stop.is_set() else max(0, self.concurrency - len(self._active))

    def _accept(self, item: Any, answered: datetime) -> bool:
        """Takes one claimed execution on; True when it is new to this runner. One it already has gets its
        lease renewed (a claim renews it) and, if its objects may not exist yet, the claim to create them."""
        try:
            claim = tekton.parse_claim(item, self.namespace, answered, self.lease_seconds)
        except InvalidClaim as error:
            self._refuse_claim(item, error)
            return False
        key = (self.namespace, claim.name)
        with self._slots:
            if key in self._done:  # its final report was delivered or refused: handing it back changes nothing
                return False
            execution = self._active.get(key)
            # A running one's PipelineRun was created by the runner that reported it: only followed from here.
            to_create = None if claim.running else claim
            if execution is not None:
                if execution.reported is None and to_create is not None:  # perhaps not yet created: create (again)
                    execution.claim = to_create
                execution.lease_seconds, execution.renewed_at = claim.lease_seconds, time.monotonic()
            else:
                self._active[key] = Execution(claim.execution_id, to_create, claim.lease_seconds, time.monotonic())
        self.lease_seconds = claim.lease_seconds
        if execution is not None:
            if execution.reported is None:
                self.queue.add(key, SYNC)
            return False
        log(INFO, "execution claimed", execution_id=claim.execution_id, pipeline_run=claim.name,
            namespace=self.namespace, lease_seconds=round(claim.lease_seconds, 1), secret=claim.secret is not None,
            running=claim.running)
        self.queue.add(key, SYNC)
        return True

    def _refuse_claim(self, item: Any, error: InvalidClaim) -> None:
        execution_id = item.get("execution_id") if isinstance(item, dict) else None
        log(ERROR, "claim item not usable", execution_id=execution_id, error=str(error))
        if isinstance(execution_id, str) and execution_id:
            try:
                self.catalog.report(execution_id, tekton.invalid_claim_report(error))
            except Exception as exc:  # its lease lapses and it comes back: reported then
                log(WARNING, "report failed", execution_id=execution_id, error=str(exc))

    # --- the workers ---

    def work(self) -> None:
        while not self.stop.is_set():
            if (work := self.queue.get(timeout=1.0)) is None:
                continue
            key = work[0]
            try:
                self.sync(key)
            except Exception as exc:
                delay = self.queue.done(key, failed=SYNC)
                # The catalog or the API server failing is expected; anything else is a bug: log its traceback.
                expected = isinstance(exc, EXPECTED)
                log(WARNING if expected else ERROR, "execution not brought up to date, will retry",
                    exc_info=not expected, namespace=key[0], pipeline_run=key[1], error=str(exc),
                    retry_in_seconds=delay)
            else:
                self.queue.done(key)

    def sync(self, key: Key) -> None:
        """Brings one PipelineRun's execution up to date. Raises what must be retried later."""
        with self._slots:
            execution = self._active.get(key)
        if execution is not None and execution.claim is not None and not self._create(key, execution):
            return
        run = self.cache.get(key)
        if run is None:
            self._vanished(key, execution)
            return
        if execution is None:
            if key in self._done or not tekton.execution_id_of(run):
                return
            execution = self._adopt(key, run)
        self._report_state(key, execution, run)

    def _create(self, key: Key, execution: Execution) -> bool:
        """Creates the claim's Secret and PipelineRun (each AlreadyExists is success) and makes the Secret a
        dependent of the run. False when the API server refuses them as invalid (then reported failed)."""
        claim = execution.claim
        assert claim is not None
        what = "Secret"
        try:
            if claim.secret is not None:
                self._create_secret(claim.secret)
            what = "PipelineRun"
            run = self._create_run(claim.pipeline_run)
            if claim.secret is not None:
                what = "Secret's ownerReference"
                self.core.patch_namespaced_secret(
                    claim.secret["metadata"]["name"], self.namespace,
                    {"metadata": {"ownerReferences": [tekton.owner_reference(run)]}},
                    _content_type="application/merge-patch+json", _request_timeout=self.request_timeout)
        except client.ApiException as exc:
            if exc.status not in (400, 422):  # 422 Invalid, 400 BadRequest: no retry can help; else retry
                raise
            log(ERROR, "the API server refused the execution's objects", execution_id=execution.execution_id,
                pipeline_run=key[1], namespace=key[0], object=what, http_status=exc.status)
            self._report(key, execution, tekton.refused_report(what, _api_message(exc)))
            return False
        execution.claim = None  # the Secret's values now live in the cluster only
        self.cache.store(run)
        log(INFO, "pipelinerun created", execution_id=execution.execution_id, pipeline_run=key[1], namespace=key[0],
            uid=run["metadata"].get("uid"))
        return True

    def _create_secret(self, secret: dict[str, Any]) -> None:
        try:
            self.core.create_namespaced_secret(self.namespace, secret, _request_timeout=self.request_timeout)
        except client.ApiException as exc:
            if exc.status != 409:  # AlreadyExists: created before a crash or by an earlier claim
                raise

    def _create_run(self, manifest: dict[str, Any]) -> dict[str, Any]:
        try:
            created: dict[str, Any] = self.runs.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, manifest, _request_timeout=self.request_timeout)
            return created
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        existing: dict[str, Any] = self.runs.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, manifest["metadata"]["name"], _request_timeout=self.request_timeout)
        return existing

    def _vanished(self, key: Key, execution: Execution | None) -> None:
        """No PipelineRun in the cache: deleted, or the cache lags (e.g. a relist listed just before our create)."""
        if execution is None:
            self._done.discard(key)  # its name may be used again
            return
        try:
            run = self.runs.get_namespaced_custom_object(GROUP, VERSION, key[0], PLURAL, key[1],
                                                         _request_timeout=self.request_timeout)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            reference = (execution.reported or {}).get("pipeline_run") or {"namespace": key[0], "name": key[1]}
            self._report(key, execution, tekton.deleted_report(reference))
            return
        self._report_state(key, execution, self.cache.store(run))

    def _adopt(self, key: Key, run: dict[str, Any]) -> Execution:
        """A labelled PipelineRun no claim of this process created: it ran before a restart (or finished while
        no watcher ran). Its lease is unknown: the latest claim's length is the best guess, and the first
        report renews it at once."""
        execution = Execution(str(tekton.execution_id_of(run)), None, self.lease_seconds, renewed_at=0.0)
        with self._slots:
            self._active[key] = execution
        return execution

    def _report_state(self, key: Key, execution: Execution, run: dict[str, Any]) -> None:
        body = tekton.report_for(run)
        interval = execution.lease_seconds / 3
        heartbeat_due = time.monotonic() - execution.renewed_at >= interval * 0.9
        if body != execution.reported or (body["status"] == RUNNING and heartbeat_due):
            self._report(key, execution, body)
        if body["status"] == RUNNING and self._tracks(key):
            self.queue.add_after(key, SYNC, max(0.05, execution.renewed_at + interval - time.monotonic()))

    def _report(self, key: Key, execution: Execution, body: dict[str, Any]) -> None:
        """Sends one report. CatalogUnavailable propagates (the work queue retries); a refusal ends the
        execution here: 409 (already final, e.g. failed as runner-lost) is logged, 400/403/404 are errors."""
        ids = {"execution_id": execution.execution_id, "pipeline_run": key[1], "status": body["status"]}
        try:
            self.catalog.report(execution.execution_id, body)
        except CatalogRejected as exc:
            log(INFO if exc.status == 409 else ERROR, "report refused by the catalog, not retried", **ids,
                http_status=exc.status, error=str(exc))
            self._finish(key)
            return
        new_state = execution.reported is None or execution.reported["status"] != body["status"]
        execution.reported, execution.renewed_at = body, time.monotonic()
        log(INFO if new_state else DEBUG, "execution reported" if new_state else "lease renewed", **ids,
            reason=body.get("reason"), started_at=body.get("started_at"), finished_at=body.get("finished_at"))
        if new_state and body.get("pipeline_run"):
            self._record_event(execution.execution_id, body)
        if body["status"] in FINAL:
            self._finish(key)

    def _record_event(self, execution_id: str, body: dict[str, Any]) -> None:
        reason, warning = EVENTS[body["status"]]
        message = f"execution {execution_id} {body['status']}"
        if body["status"] == FAILED:
            message += f": {body.get('reason') or 'Failed'}: {body.get('message') or ''}".rstrip(": ")
        reference = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, **body["pipeline_run"]}
        self.events.record(reference, reason, message, f"{execution_id}/{body['status']}", warning=warning)

    def _tracks(self, key: Key) -> bool:
        with self._slots:
            return key in self._active

    def _finish(self, key: Key) -> None:
        with self._slots:
            self._active.pop(key, None)
            self._done.add(key)
            self._slots.notify_all()


def _api_message(exc: client.ApiException) -> str:
    """The API server's Status message (why it refused), else the HTTP reason."""
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except ValueError:
        return str(exc.reason)
