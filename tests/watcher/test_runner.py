"""The runner in the watcher (watcher/runner.py), in-process, against the in-memory Kubernetes API server
(tests/support/kube_emulator.py) and the fake catalog's runner endpoints (tests/support/fake_catalog.py says
why they are a fake). Process-level cases (kill -9, restarts): test_runner_process.py.

Short leases and claim waits (set on the fake catalog and the runner) keep each case to a few seconds.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import yaml
from pytest_httpserver import HTTPServer

from tests.support.fake_api import resource, wait_until
from tests.support.fake_catalog import FakeCatalog, FakeExecutions
from tests.support.kube_emulator import EVENTS, PIPELINE_RUNS, SECRETS, KubeEmulator
from tests.support.paths import ROOT
from tests.support.tekton import problems
from watcher import tekton
from watcher.app import Watcher

RUN_NS = "kubernaut-workflows"


@pytest.fixture
def catalog(runner_catalog: FakeCatalog) -> FakeCatalog:
    return runner_catalog


@pytest.fixture
def run_watcher(kube: tuple[KubeEmulator, str], catalog_server: HTTPServer,
                start_watcher: Callable[..., Watcher]) -> Callable[..., Watcher]:
    def run(**settings: Any) -> Watcher:
        watcher = start_watcher(kube[1], catalog_server.url_for(""), runner=True, runner_id="runner-a",
                                **settings)
        runner = watcher.runner
        assert runner is not None
        # Quick retries (the defaults are for production: 1 s doubling to 30 s between attempts).
        runner.first_retry_seconds, runner.queue.max_retry_seconds = 0.1, 1.0
        runner.catalog.backoff = 0.05
        return watcher

    return run


def pipeline_run_name(executions: FakeExecutions, execution_id: str) -> str:
    return str(executions.get(execution_id).pipeline_run["metadata"]["name"])


def created(emulator: KubeEmulator, name: str, timeout: float = 15.0) -> dict[str, Any]:
    return emulator.wait_for(RUN_NS, name, lambda obj: True, timeout=timeout, plural=PIPELINE_RUNS)


def events_on(emulator: KubeEmulator, name: str) -> list[tuple[str, str, str]]:
    return [(event["reason"], event["type"], event["message"]) for event in emulator.objects(EVENTS)
            if event["involvedObject"]["name"] == name]


def rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the pure part ---

@pytest.mark.parametrize(
    ("condition", "status"),
    [(None, "running"), ({"status": "Unknown", "reason": "Running"}, "running"),
     ({"status": "Unknown", "reason": "PipelineRunPending"}, "running"),
     ({"status": "True", "reason": "Succeeded"}, "succeeded"), ({"status": "False", "reason": "Cancelled"}, "failed")],
)
def test_tektons_succeeded_condition_decides_the_report(condition: dict[str, str] | None, status: str) -> None:
    run: dict[str, Any] = {"metadata": {"name": "r", "namespace": RUN_NS, "uid": "u1"}, "status": {}}
    if condition is not None:
        run["status"] = {"startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:01:00Z",
                         "conditions": [{"type": "Succeeded", "message": "why", **condition}]}
    body = tekton.report_for(run)
    assert body["status"] == status and body["pipeline_run"] == {"namespace": RUN_NS, "name": "r", "uid": "u1"}
    if status == "running":  # Tekton's progress message changes often: a running report leaves it out
        assert "finished_at" not in body and "reason" not in body and "message" not in body
    else:
        assert (body["reason"], body["message"]) == (condition["reason"], "why")  # type: ignore[index]
        assert (body["started_at"], body["finished_at"]) == ("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z")


def test_a_claim_is_placed_in_the_run_namespace_and_its_lease_measured_on_the_catalogs_clock() -> None:
    answered = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    item = {"execution_id": "e1", "lease_expires_at": "2026-01-01T12:00:45Z",
            "pipeline_run": {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
                             "metadata": {"name": "fix-e1", "namespace": "elsewhere"}, "spec": {}},
            "secret": {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                       "metadata": {"name": "s-e1", "namespace": "kube-system", "annotations": {"x": "y"}},
                       "stringData": {"TOKEN": "t0p"}}}
    claim = tekton.parse_claim(item, RUN_NS, answered, 60.0)
    assert claim.lease_seconds == 45.0 and not claim.running  # no status: a catalog that claims pending ones only
    assert tekton.parse_claim({**item, "status": "running"}, RUN_NS, answered, 60.0).running
    assert "t0p" not in repr(claim)  # the values are never printed with the claim
    assert claim.pipeline_run["metadata"]["namespace"] == RUN_NS
    assert claim.pipeline_run["metadata"]["labels"] == {tekton.EXECUTION_LABEL: "e1"}  # how the runner finds it
    # Rebuilt from name, labels and values: no other type, namespace or metadata can come through a claim.
    assert claim.secret == {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "stringData": {"TOKEN": "t0p"},
                            "metadata": {"name": "s-e1", "namespace": RUN_NS, "labels": {}}}
    for broken in ({**item, "pipeline_run": {**item["pipeline_run"], "kind": "TaskRun"}},
                   {**item, "secret": {"metadata": {"name": "s"}, "stringData": {"A": 1}}}, {"pipeline_run": {}},
                   {**item, "status": "succeeded"}):
        with pytest.raises(tekton.InvalidClaim):
            tekton.parse_claim(broken, RUN_NS, answered, 60.0)
    assert tekton.parse_claim({**item, "lease_expires_at": "soon"}, RUN_NS, answered, 60.0).lease_seconds == 60.0


# --- the runner against the emulator and the fake catalog ---

def test_a_claim_becomes_a_secret_and_a_pipelinerun_whose_outcome_is_reported(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    execution_id = executions.add(parameters={"TARGET_DEPLOYMENT": "api"}, secrets={"DB_PASSWORD": "s3cr3t-v4lue"})
    name = pipeline_run_name(executions, execution_id)
    run_watcher()

    run = created(emulator, name)
    executions.wait_for(lambda ex: ex.reported(execution_id) == ["running"])
    # In RUN_NAMESPACE, a valid PipelineRun; the writeOnly value only in the Secret, reached by secretKeyRef.
    written = {key: value for key, value in run["metadata"].items() if key in ("name", "namespace", "labels",
                                                                                 "annotations")}
    assert problems({**run, "metadata": written}) == []  # what the runner wrote, without the server's fields
    (secret,) = emulator.objects(SECRETS, RUN_NS)
    assert base64.b64decode(secret["data"]["DB_PASSWORD"]).decode() == "s3cr3t-v4lue"
    assert "s3cr3t-v4lue" not in str(run)
    env = run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]["env"]
    assert {"name": "DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": secret["metadata"]["name"], "key": "DB_PASSWORD"}}} in env
    # The Secret belongs to the run: Kubernetes deletes it with the run.
    assert secret["metadata"]["ownerReferences"] == [{"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
                                                      "name": name, "uid": run["metadata"]["uid"]}]
    assert executions.get(execution_id).sealed is None  # running reported: the catalog dropped its copy
    first = executions.get(execution_id).result
    assert first["pipeline_run"] == {"namespace": RUN_NS, "name": name, "uid": run["metadata"]["uid"]}

    emulator.mark_running(RUN_NS, name, started_at="2026-03-01T10:00:00Z")
    executions.wait_for(lambda ex: ex.get(execution_id).result.get("started_at") == "2026-03-01T10:00:00Z")
    emulator.mark_succeeded(RUN_NS, name, finished_at="2026-03-01T10:02:30Z")
    executions.wait_for(lambda ex: ex.get(execution_id).status == "succeeded")
    result = executions.get(execution_id).result
    assert (result["started_at"], result["finished_at"], result["reason"]) == (
        "2026-03-01T10:00:00Z", "2026-03-01T10:02:30Z", "Succeeded")
    assert executions.reported(execution_id)[-1] == "succeeded"

    wait_until(lambda: len(events_on(emulator, name)) == 2)
    assert sorted(events_on(emulator, name)) == [
        ("ExecutionRunning", "Normal", f"execution {execution_id} running"),
        ("ExecutionSucceeded", "Normal", f"execution {execution_id} succeeded")]
    # Claims carried this runner's id; nothing was claimed twice.
    assert {body["runner_id"] for body, _, _ in executions.claims} == {"runner-a"}
    assert sum(ids.count(execution_id) for _, ids, _ in executions.claims) >= 1
    assert len(emulator.objects(PIPELINE_RUNS)) == 1

    # Deleting the run deletes its Secret (ownerReferences), and nothing is reported for a finished run.
    reports = len(executions.reports)
    emulator.delete(RUN_NS, name, plural=PIPELINE_RUNS)
    assert emulator.objects(SECRETS) == []
    time.sleep(0.5)
    assert len(executions.reports) == reports


def test_a_failed_run_is_reported_with_tektons_reason_message_and_times(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    execution_id = executions.add()
    name = pipeline_run_name(executions, execution_id)
    run_watcher()
    created(emulator, name)
    assert emulator.objects(SECRETS) == []  # no writeOnly value: no Secret
    message = f'PipelineRun "{name}" failed to finish within "10m0s"'
    emulator.mark_failed(RUN_NS, name, reason="PipelineRunTimeout", message=message,
                         started_at="2026-03-01T10:00:00Z", finished_at="2026-03-01T10:10:00Z")
    executions.wait_for(lambda ex: ex.get(execution_id).status == "failed")
    result = executions.get(execution_id).result
    assert (result["reason"], result["message"]) == ("PipelineRunTimeout", message)
    assert (result["started_at"], result["finished_at"]) == ("2026-03-01T10:00:00Z", "2026-03-01T10:10:00Z")
    wait_until(lambda: any(reason == "ExecutionFailed" for reason, _, _ in events_on(emulator, name)))
    assert ("ExecutionFailed", "Warning", f"execution {execution_id} failed: PipelineRunTimeout: {message}") in \
        events_on(emulator, name)


def test_heartbeats_renew_the_lease_of_a_long_run_and_stop_when_it_ends(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    executions.lease_seconds = 1.2  # a heartbeat every 0.4 s
    execution_id = executions.add()
    name = pipeline_run_name(executions, execution_id)
    run_watcher()
    created(emulator, name)
    emulator.mark_running(RUN_NS, name)
    # A heartbeat every third of the lease, measured against the answer's Date (whole seconds), so 0.4 to 0.8 s
    # apart: four of them span more than two leases.
    deadline = time.monotonic() + 6
    while executions.reported(execution_id).count("running") < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert executions.reported(execution_id).count("running") >= 4, executions.reported(execution_id)
    assert executions.lapsed == []  # never lapsed, so never claimable by another runner
    emulator.mark_succeeded(RUN_NS, name)
    executions.wait_for(lambda ex: ex.get(execution_id).status == "succeeded")
    done = len(executions.reported(execution_id))
    time.sleep(0.9)
    assert len(executions.reported(execution_id)) == done  # no heartbeat after the end


def test_a_report_answered_409_is_not_retried_and_frees_the_slot(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    lost = executions.add()
    run_watcher(runner_concurrency=1)
    created(emulator, pipeline_run_name(executions, lost))
    executions.wait_for(lambda ex: ex.reported(lost) == ["running"])
    executions.finish(lost, "failed", "runner-lost")  # e.g. failed by the catalog meanwhile
    nxt = executions.add()
    emulator.mark_succeeded(RUN_NS, pipeline_run_name(executions, lost))
    # The one slot is free again: the next execution runs.
    created(emulator, pipeline_run_name(executions, nxt))
    refused = [body["status"] for eid, body, code in executions.reports if eid == lost and code == 409]
    assert refused == ["succeeded"]  # sent once, never again
    time.sleep(1.0)
    assert [body["status"] for eid, body, code in executions.reports if eid == lost and code == 409] == refused


def test_a_report_refused_403_is_not_retried(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    execution_id = executions.add()
    executions.refuse[execution_id] = 403  # e.g. the key is bound to another cluster
    run_watcher()
    created(emulator, pipeline_run_name(executions, execution_id))
    wait_until(lambda: any(eid == execution_id for eid, _, _ in executions.reports))
    time.sleep(1.5)  # a lease: a heartbeat would have been sent by now
    assert [code for eid, _, code in executions.reports if eid == execution_id] == [403]


def test_concurrency_limit_holds_and_claims_ask_for_the_free_slots_only(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    ids = [executions.add() for _ in range(5)]
    names = [pipeline_run_name(executions, execution_id) for execution_id in ids]
    most_running = [0]
    stop = threading.Event()

    def count_running() -> None:
        while not stop.is_set():
            live = [run for run in emulator.objects(PIPELINE_RUNS)
                    if not any(c.get("status") in ("True", "False") for c in (run.get("status") or {}).get(
                        "conditions", []))]
            most_running[0] = max(most_running[0], len(live))
            time.sleep(0.01)

    counter = threading.Thread(target=count_running)
    counter.start()
    try:
        run_watcher(runner_concurrency=2)
        wait_until(lambda: len(emulator.objects(PIPELINE_RUNS)) == 2)
        # Holding two running executions, no slot is free: the runner does not claim at all.
        executions.wait_for(lambda ex: all(ex.reported(i) for i in ids[:2]))
        claims_before = len(executions.claims)
        time.sleep(2.0)
        assert len(executions.claims) == claims_before
        assert len(emulator.objects(PIPELINE_RUNS)) == 2
        for name in names:  # finish them one by one as they appear: the next ones get the freed slots
            created(emulator, name)
            emulator.mark_succeeded(RUN_NS, name)
        executions.wait_for(lambda ex: all(ex.get(i).status == "succeeded" for i in ids))
    finally:
        stop.set()
        counter.join()
    assert most_running[0] <= 2
    assert executions.most_held["runner-a"] <= 2
    assert len(emulator.objects(PIPELINE_RUNS)) == 5
    # Claims asked for the free slots only: the fake hands back held pending ones besides `max` new ones, so asking
    # for more would have made the runner hold more than two (most_held above). The first claim does not wait.
    asked = [(body["max"], body["wait_seconds"]) for body, _, _ in executions.claims]
    assert asked[0] == (2, 0) and {most for most, _ in asked} <= {1, 2} and {wait for _, wait in asked[1:]} <= {20}


def test_an_idle_runner_claims_once_per_interval_without_waiting(
    catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    executions = catalog.executions
    run_watcher(claim_wait_seconds=0, claim_interval_seconds=0.5)
    wait_until(lambda: len(executions.claims) >= 1)
    time.sleep(2.2)
    idle = [body["wait_seconds"] for body, found, _ in executions.claims]
    assert set(idle) == {0} and 4 <= len(idle) <= 6, idle  # one claim per interval, none of them waiting


def test_a_backlog_is_claimed_without_the_interval_between_claims(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    backlog = [executions.add() for _ in range(3)]
    run_watcher(claim_wait_seconds=0, claim_interval_seconds=60, runner_concurrency=1)
    for execution_id in backlog:  # one at a time; each claim that brought work is followed by the next one at once
        name = pipeline_run_name(executions, execution_id)
        created(emulator, name, timeout=10)
        emulator.mark_succeeded(RUN_NS, name)
    executions.wait_for(lambda ex: all(ex.get(i).status == "succeeded" for i in backlog), timeout=10)


@pytest.mark.parametrize("outage", ["connections refused", "503 answers"])
def test_catalog_down_for_a_while_is_retried_and_loses_nothing(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, catalog_server: HTTPServer,
    run_watcher: Callable[..., Watcher], outage: str,
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    first = executions.add()
    watcher = run_watcher()
    name = pipeline_run_name(executions, first)
    created(emulator, name)
    executions.wait_for(lambda ex: ex.reported(first) == ["running"])

    if outage == "connections refused":
        catalog_server.stop()
    else:  # the catalog's gateway or database down: every runner request answered 503
        executions.unavailable = True
    emulator.mark_succeeded(RUN_NS, name)
    second = executions.add()  # waits in the catalog meanwhile
    time.sleep(2.5)
    assert watcher.health.live() == (True, "alive: resource watch loop, runner watch loop, runner claim loop")
    if outage == "connections refused":
        catalog_server.start()
    else:
        assert executions.get(first).status == "running"  # the report was refused, not lost
        executions.unavailable = False

    executions.wait_for(lambda ex: ex.get(first).status == "succeeded", timeout=20)
    created(emulator, pipeline_run_name(executions, second), timeout=20)
    executions.wait_for(lambda ex: ex.reported(second) == ["running"], timeout=20)
    assert all(thread.is_alive() for thread in watcher.threads + watcher.workers)
    assert len(emulator.objects(PIPELINE_RUNS)) == 2


def test_api_server_down_for_a_while_is_retried_and_loses_nothing(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    executions.lease_seconds = 30.0  # the outage is shorter than a lease
    first = executions.add()
    watcher = run_watcher()
    name = pipeline_run_name(executions, first)
    created(emulator, name)
    executions.wait_for(lambda ex: ex.reported(first) == ["running"])

    with emulator.outage():
        emulator.mark_succeeded(RUN_NS, name)  # Tekton finished it while the watcher could not see it
        second = executions.add()
        time.sleep(2.5)
        assert watcher.health.live()[0] is True
    executions.wait_for(lambda ex: ex.get(first).status == "succeeded", timeout=30)
    created(emulator, pipeline_run_name(executions, second), timeout=30)
    executions.wait_for(lambda ex: ex.reported(second) == ["running"], timeout=30)
    assert all(thread.is_alive() for thread in watcher.threads + watcher.workers)
    assert len(emulator.objects(PIPELINE_RUNS)) == 2  # exactly one each, whatever was retried


def test_a_pipelinerun_deleted_before_it_finished_fails_its_execution(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    execution_id = executions.add(secrets={"TOKEN": "x"})
    run_watcher()
    name = pipeline_run_name(executions, execution_id)
    created(emulator, name)
    executions.wait_for(lambda ex: ex.reported(execution_id) == ["running"])
    emulator.delete(RUN_NS, name, plural=PIPELINE_RUNS)  # e.g. an operator stopping it
    executions.wait_for(lambda ex: ex.get(execution_id).status == "failed")
    assert executions.get(execution_id).result["reason"] == "PipelineRunDeleted"
    assert emulator.objects(SECRETS) == []


def test_events_on_resources_and_runs_and_a_hanging_events_api_blocks_nothing(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    emulator.stalled_creates.add(EVENTS)  # every Event creation hangs, then fails
    run_watcher()
    emulator.apply(resource("oom"))
    emulator.apply(resource("bad"))  # the fake catalog refuses it: an invalid label key
    execution_id = executions.add()
    name = pipeline_run_name(executions, execution_id)
    created(emulator, name)
    emulator.mark_succeeded(RUN_NS, name)
    # Registrations and reports go on while the Events API hangs.
    executions.wait_for(lambda ex: ex.get(execution_id).status == "succeeded", timeout=10)
    emulator.wait_for("team-a", "oom", lambda obj: (obj.get("status") or {}).get("phase") == "Registered", 10)
    emulator.wait_for("team-a", "bad", lambda obj: (obj.get("status") or {}).get("phase") == "Failed", 10)
    assert emulator.objects(EVENTS) == []

    emulator.stalled_creates.clear()
    emulator.apply(resource("disk"))
    emulator.wait_for("team-a", "disk", lambda obj: (obj.get("status") or {}).get("phase") == "Registered", 15)
    wait_until(lambda: any(event["involvedObject"]["name"] == "disk" for event in emulator.objects(EVENTS)))
    (registered,) = [event for event in emulator.objects(EVENTS) if event["involvedObject"]["name"] == "disk"]
    assert registered["involvedObject"]["kind"] == "RemediationWorkflow"
    assert registered["involvedObject"]["uid"] == emulator.get("team-a", "disk")["metadata"]["uid"]
    assert (registered["reason"], registered["type"], registered["metadata"]["namespace"]) == (
        "Registered", "Normal", "team-a")
    assert registered["message"].startswith("registered as disk 1.0.0")


def test_a_refused_registration_is_recorded_as_a_warning_event_naming_the_reason(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    run_watcher()
    emulator.apply(resource("bad"))
    wait_until(lambda: any(event["involvedObject"]["name"] == "bad" for event in emulator.objects(EVENTS)))
    (event,) = [event for event in emulator.objects(EVENTS) if event["involvedObject"]["name"] == "bad"]
    assert (event["reason"], event["type"]) == ("RegistrationFailed", "Warning")
    assert event["message"].startswith("Invalid: ") and "label keys are lower_snake_case" in event["message"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the bug it plants
def test_healthz_names_the_runner_loop_that_died(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    watcher = run_watcher()
    runner = watcher.runner
    assert runner is not None
    url = f"http://127.0.0.1:{watcher.health.port}/healthz"
    wait_until(lambda: requests.get(url, timeout=5).status_code == 200)

    def bug(item: Any, answered: datetime) -> bool:
        raise RuntimeError("a bug in the runner")

    runner._accept = bug  # type: ignore[method-assign]
    catalog.executions.add()
    wait_until(lambda: requests.get(url, timeout=5).status_code == 503)
    assert requests.get(url, timeout=5).text == "runner claim loop has died"


def manifest_rbac(drop: tuple[str, str, str] | None = None) -> Callable[[str, str, str, str | None], bool]:
    """What watcher/deploy grants the watcher's ServiceAccount (minus ``drop``, a (group, resource, verb)): its
    ClusterRoles everywhere, its Roles in their namespaces, as the API server's RBAC authorizer decides."""
    docs = [doc for name in ("rbac.yaml", "runner.yaml")
            for doc in yaml.safe_load_all((ROOT / "watcher" / "deploy" / name).read_text()) if doc]
    roles = {(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]): doc["rules"]
             for doc in docs if doc["kind"] in ("Role", "ClusterRole")}
    grants: list[tuple[str | None, set[tuple[str, str, str]]]] = []  # (namespace or None for all, rules)
    for doc in docs:
        if doc["kind"] in ("RoleBinding", "ClusterRoleBinding") and {"kind": "ServiceAccount", "name": WATCHER_SA,
                                                                      "namespace": "kubernaut-system"} in doc["subjects"]:
            namespace = doc["metadata"].get("namespace")
            rules = roles[(doc["roleRef"]["kind"], namespace if doc["roleRef"]["kind"] == "Role" else None,
                           doc["roleRef"]["name"])]
            grants.append((namespace, {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
                                       for resource in rule["resources"] for verb in rule["verbs"]} - {drop}))

    def allowed(verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return any((group, resource, verb) in rules and scope in (None, namespace) for scope, rules in grants)

    return allowed


WATCHER_SA = "remediation-workflow-watcher"


def test_the_manifests_rbac_is_all_the_watcher_and_its_runner_need(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    emulator.authorize = manifest_rbac()
    run_watcher()
    emulator.apply(resource("oom"))
    execution_id = executions.add(secrets={"TOKEN": "t"})
    name = pipeline_run_name(executions, execution_id)
    created(emulator, name)
    executions.wait_for(lambda ex: ex.reported(execution_id) == ["running"])
    emulator.mark_succeeded(RUN_NS, name)
    executions.wait_for(lambda ex: ex.get(execution_id).status == "succeeded")
    emulator.wait_for("team-a", "oom", lambda obj: (obj.get("status") or {}).get("phase") == "Registered")
    wait_until(lambda: {event["reason"] for event in emulator.objects(EVENTS)} == {
        "Registered", "ExecutionRunning", "ExecutionSucceeded"}, timeout=10)
    (secret,) = emulator.objects(SECRETS)
    assert secret["metadata"]["ownerReferences"]
    assert emulator.forbidden == []


def test_without_the_secret_patch_right_the_runner_is_refused_and_keeps_retrying(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, run_watcher: Callable[..., Watcher],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    emulator.authorize = manifest_rbac(drop=("", "secrets", "patch"))  # the check above is a real check
    run_watcher()
    execution_id = executions.add(secrets={"TOKEN": "t"})
    wait_until(lambda: emulator.forbidden.count(("patch", "", "secrets", RUN_NS)) >= 2)  # refused, retried
    assert executions.reported(execution_id) == []  # never reported running without its Secret's owner
