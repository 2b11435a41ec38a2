"""The in-cluster runner end to end (issue 23's acceptance): the real catalog API on a loopback port (its local
server, on the test database), the watcher as a process (``python -m watcher``, killed with SIGKILL where it
matters) and the in-memory Kubernetes API server (tests/support/kube_emulator.py says why it is emulated).
Tekton's controller is played by the test (``mark_running``/``mark_succeeded``/``mark_failed``).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.container import services
from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.database import stored_text
from tests.support.executions import (
    REQUESTER,
    SECRET,
    create_workflow,
    decide,
    incident,
    lapse,
    release,
    require_approval,
    stuck_parameters,
)
from tests.support.fake_api import wait_until
from tests.support.kube_emulator import PIPELINE_RUNS, SECRETS, KubeEmulator
from tests.support.logs import LogCapture, captured_logs
from tests.support.registrations import catalog_dump
from tests.support.watcher_process import WatcherProcess, kubeconfig

RUN_NS = "kubernaut-workflows"
EXECUTIONS = "/api/v1/executions"
WATCHER_SCOPES = ["registrations:write", "catalog:read", "executions:run"]  # the per-cluster key (docs/watcher.md)


class Catalog:
    """The catalog on its port, with keys made for the test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[str] = []  # every body this test got back (none may carry a secret)

    def key(self, *scopes: str, cluster: str | None = None) -> str:
        return services().api_keys.create(f"e2e {' '.join(scopes)}", list(scopes), None, cluster)[1]

    def call(self, method: str, path: str, key: str, body: Any = None) -> requests.Response:
        response = requests.request(method, self.url + path, json=body, timeout=30,
                                    headers={"Authorization": f"Bearer {key}"})
        self.answers.append(response.text)
        return response

    def execution(self, execution_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"{EXECUTIONS}/{execution_id}", self.reader).json())

    def wait_status(self, execution_id: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
        wait_until(lambda: self.execution(execution_id)["status"] == status, timeout=timeout)
        return self.execution(execution_id)

    @property
    def reader(self) -> str:
        if not hasattr(self, "_reader"):
            self._reader = self.key("catalog:read")
        return self._reader


@pytest.fixture
def catalog(catalog_api: str, client: ApiClient) -> Catalog:
    create_workflow(client)  # stuck-rollout-restart: NOTIFY_WEBHOOK_TOKEN is writeOnly
    return Catalog(catalog_api)


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    with captured_logs() as capture:
        yield capture


@pytest.fixture
def clusters() -> Iterator[Callable[[], tuple[KubeEmulator, str]]]:
    """In-memory API servers, one per cluster the test needs."""
    with ExitStack() as stack:
        def start() -> tuple[KubeEmulator, str]:
            emulator = KubeEmulator()
            return emulator, stack.enter_context(emulator.serving())
        yield start


@pytest.fixture
def watchers(catalog: Catalog, tmp_path: Path) -> Iterator[Callable[..., WatcherProcess]]:
    """Starts ``python -m watcher`` for a cluster (its API server and its key); stops them all at the end."""
    started: list[WatcherProcess] = []

    def start(kube_url: str, cluster: str, runner_id: str = "runner-a", key: str | None = None,
              **settings: str) -> WatcherProcess:
        key_file = tmp_path / f"key-{cluster}"
        if key is not None or not key_file.exists():
            key_file.write_text(key or catalog.key(*WATCHER_SCOPES, cluster=cluster))
        env = {"CATALOG_URL": catalog.url, "CATALOG_API_KEY_FILE": str(key_file), "RUNNER_ID": runner_id,
               "KUBECONFIG": str(kubeconfig(tmp_path / f"kubeconfig-{cluster}", kube_url)),
               "RUN_NAMESPACE": RUN_NS, "RUNNER_CONCURRENCY": "4", "WATCH_NAMESPACE": "team-a",
               "CLAIM_WAIT_SECONDS": "20", "CLAIM_INTERVAL_SECONDS": "0",  # a long poll: the catalog is a server
               **settings}
        process = WatcherProcess(env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def execute(catalog: Catalog, key: str, cluster: str | None = None, secret: bool = False,
            name: str = "checkout", workflow_id: str = "stuck-rollout-restart") -> dict[str, Any]:
    target = {"kind": "Deployment", "namespace": "shop", "name": name, **({"cluster": cluster} if cluster else {})}
    parameters = stuck_parameters(NOTIFY_CHANNEL="#ops", NOTIFY_WEBHOOK_TOKEN=SECRET) if secret else \
        stuck_parameters()
    response = catalog.call("POST", EXECUTIONS, key, {"workflow_id": workflow_id, "target": target,
                                                      "parameters": parameters, "incident": incident()})
    assert response.status_code == 201, response.text
    return dict(response.json())


def run_of(emulator: KubeEmulator, execution: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    return emulator.wait_for(RUN_NS, execution["pipeline_run"]["metadata"]["name"], lambda obj: True,
                             timeout=timeout, plural=PIPELINE_RUNS)


def held(db: Database) -> int:
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM execution_secrets")
        return int(cur.fetchone()["n"])


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_execution_with_a_secret_runs_in_its_cluster_and_its_outcome_comes_back(
    catalog: Catalog, clusters: Callable[[], tuple[KubeEmulator, str]], watchers: Callable[..., WatcherProcess],
    db: Database, logs: LogCapture,
) -> None:
    emulator, url = clusters()
    watcher = watchers(url, "prod-east")
    agent = catalog.key("executions:write")
    execution = execute(catalog, agent, "prod-east", secret=True)
    execution_id = execution["execution_id"]
    assert SECRET not in json.dumps(execution)  # the answer shows the run the runner creates, without the value

    run = run_of(emulator, execution)
    secret = emulator.wait_for(RUN_NS, f"kubernaut-exec-{execution_id}", lambda obj: obj["metadata"].get(
        "ownerReferences"), plural=SECRETS)  # made the run's dependent once the run exists
    assert run["metadata"]["namespace"] == RUN_NS and len(emulator.objects(SECRETS)) == 1
    assert base64.b64decode(secret["data"]["NOTIFY_WEBHOOK_TOKEN"]).decode() == SECRET
    assert [owner["uid"] for owner in secret["metadata"]["ownerReferences"]] == [run["metadata"]["uid"]]
    step = run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]
    assert {"name": "NOTIFY_WEBHOOK_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": secret["metadata"]["name"], "key": "NOTIFY_WEBHOOK_TOKEN"}}} in step["env"]
    assert SECRET not in json.dumps(run)
    # Reported running: the catalog deleted its sealed copy.
    running = catalog.wait_status(execution_id, "running")
    wait_until(lambda: held(db) == 0)
    assert running["pipeline_run_ref"] == {"namespace": RUN_NS, "name": run["metadata"]["name"],
                                           "uid": run["metadata"]["uid"]}
    assert running["lease"]["runner_id"] == "runner-a"

    tekton = emulator.mark_running(RUN_NS, run["metadata"]["name"])
    done = emulator.mark_succeeded(RUN_NS, run["metadata"]["name"])
    record = catalog.wait_status(execution_id, "succeeded")
    assert moment(record["started_at"]) == moment(tekton["status"]["startTime"])
    assert moment(record["finished_at"]) == moment(done["status"]["completionTime"])
    assert record["reason"] == "Succeeded" and record["duration_seconds"] is not None
    assert [(e["from"], e["to"]) for e in record["events"]] == [
        (None, "pending"), ("pending", "pending"), ("pending", "running"), ("running", "succeeded")]
    stats = catalog.call("GET", "/api/v1/playbooks/stuck-rollout-restart/stats", catalog.reader).json()
    assert stats["versions"][0]["succeeded"] == 1

    # The value was in the Secret only: not in the catalog's rows, in no answer but the claim, in no log line.
    assert SECRET not in stored_text(db)
    assert not any(SECRET in answer for answer in catalog.answers)
    lines = logs.lines()
    assert not any(SECRET in json.dumps(line) for line in lines)
    assert {"execution claimed", "execution reported"} <= {line["message"] for line in lines
                                                           if line.get("execution_id") == execution_id}
    claimed = next(line for line in lines if line["message"] == "execution claimed")
    assert (claimed["runner_id"], claimed["cluster"]) == ("runner-a", "prod-east")
    assert SECRET not in watcher.output()


def test_a_failed_run_fails_the_execution_with_tektons_reason(
    catalog: Catalog, clusters: Callable[[], tuple[KubeEmulator, str]], watchers: Callable[..., WatcherProcess],
) -> None:
    emulator, url = clusters()
    watchers(url, "default")
    execution = execute(catalog, catalog.key("executions:write"))  # no cluster: "default"
    run = run_of(emulator, execution)
    catalog.wait_status(execution["execution_id"], "running")
    emulator.mark_failed(RUN_NS, run["metadata"]["name"], reason="PipelineRunTimeout",
                         message='PipelineRun "x" failed to finish within "10m0s"')
    record = catalog.wait_status(execution["execution_id"], "failed")
    assert (record["reason"], record["message"]) == ("PipelineRunTimeout",
                                                     'PipelineRun "x" failed to finish within "10m0s"')
    assert record["started_at"] and record["finished_at"]
    # The failure is a notification, as any failure is (the outbox; delivery is another test's).
    with services().db.reading() as cur:
        cur.execute("SELECT data FROM notifications WHERE event_type = 'execution.failed'")
        (notice,) = cur.fetchall()
    assert notice["data"]["reason"].startswith("PipelineRunTimeout")


def test_killed_after_the_claim_before_the_create_a_restart_creates_exactly_one_run(
    catalog: Catalog, clusters: Callable[[], tuple[KubeEmulator, str]], watchers: Callable[..., WatcherProcess],
    db: Database,
) -> None:
    emulator, url = clusters()
    emulator.stalled_creates.add(PIPELINE_RUNS)  # the create hangs: the process dies before it is done
    first = watchers(url, "prod-east")
    execution = execute(catalog, catalog.key("executions:write"), "prod-east", secret=True)
    wait_until(lambda: any(method == "POST" and path.endswith("/pipelineruns") for method, path in emulator.requests))
    first.kill()
    emulator.stalled_creates.clear()
    assert emulator.objects(PIPELINE_RUNS) == []
    assert catalog.execution(execution["execution_id"])["status"] == "pending"

    second = watchers(url, "prod-east")  # the same runner id: its first claim hands the execution back at once
    run = run_of(emulator, execution, timeout=20)
    catalog.wait_status(execution["execution_id"], "running")
    emulator.mark_succeeded(RUN_NS, run["metadata"]["name"])
    record = catalog.wait_status(execution["execution_id"], "succeeded")
    assert len(emulator.objects(PIPELINE_RUNS)) == 1 and len(emulator.objects(SECRETS)) == 1
    assert record["lease"]["lapses"] == 0  # no lease had to lapse first
    assert SECRET not in first.output() + second.output() and held(db) == 0


def test_a_run_that_finished_while_no_watcher_ran_is_reported_after_the_restart(
    catalog: Catalog, clusters: Callable[[], tuple[KubeEmulator, str]], watchers: Callable[..., WatcherProcess],
) -> None:
    emulator, url = clusters()
    first = watchers(url, "prod-east")
    execution = execute(catalog, catalog.key("executions:write"), "prod-east")
    run = run_of(emulator, execution)
    catalog.wait_status(execution["execution_id"], "running")
    assert first.stop() == 0
    emulator.mark_failed(RUN_NS, run["metadata"]["name"], reason="Cancelled", message="cancelled by an operator")
    emulator.compact()  # and the watch history is gone: only a list can tell
    watchers(url, "prod-east")
    record = catalog.wait_status(execution["execution_id"], "failed")
    assert (record["reason"], record["message"]) == ("Cancelled", "cancelled by an operator")
    assert len(emulator.objects(PIPELINE_RUNS)) == 1


def test_a_running_execution_whose_runner_died_is_followed_by_another_never_created_again(
    catalog: Catalog, clusters: Callable[[], tuple[KubeEmulator, str]], watchers: Callable[..., WatcherProcess],
    db: Database,
) -> None:
    """Another runner id takes over once the dead one's leases lapse: a PipelineRun that still exists is followed
    to its end (its informer lists it); one deleted meanwhile fails its execution when claimed, and nothing runs
    the remediation a second time."""
    emulator, url = clusters()
    # No long poll for the runner that dies: a claim it left waiting at the catalog would lease the takeover's work.
    first = watchers(url, "prod-east", CLAIM_WAIT_SECONDS="0", CLAIM_INTERVAL_SECONDS="1")
    key = catalog.key("executions:write")
    kept, deleted = (execute(catalog, key, "prod-east", secret=True, name=name) for name in ("cart", "search"))
    runs = {execution["execution_id"]: run_of(emulator, execution) for execution in (kept, deleted)}
    for execution in (kept, deleted):
        catalog.wait_status(execution["execution_id"], "running")
    first.kill()
    emulator.delete(RUN_NS, runs[deleted["execution_id"]]["metadata"]["name"], plural=PIPELINE_RUNS)
    lapse(db, kept["execution_id"], deleted["execution_id"])  # CLAIM_LEASE_SECONDS pass with no report
    creates = sum(method == "POST" and path.endswith("/pipelineruns") for method, path in emulator.requests)

    watchers(url, "prod-east", runner_id="runner-b")
    gone = catalog.wait_status(deleted["execution_id"], "failed")
    assert gone["reason"] == "PipelineRunDeleted" and gone["lease"]["lapses"] == 1
    emulator.mark_succeeded(RUN_NS, runs[kept["execution_id"]]["metadata"]["name"])
    catalog.wait_status(kept["execution_id"], "succeeded")
    assert sum(method == "POST" and path.endswith("/pipelineruns") for method, path in emulator.requests) == creates
    assert [run["metadata"]["name"] for run in emulator.objects(PIPELINE_RUNS)] == \
        [runs[kept["execution_id"]]["metadata"]["name"]]
    assert held(db) == 0


def test_each_clusters_runner_claims_only_its_clusters_executions_and_reports_only_on_them(
    catalog: Catalog, clusters: Callable[[], tuple[KubeEmulator, str]], watchers: Callable[..., WatcherProcess],
    db: Database,
) -> None:
    (east, east_url), (west, west_url) = clusters(), clusters()
    east_key = catalog.key(*WATCHER_SCOPES, cluster="prod-east")
    west_key = catalog.key(*WATCHER_SCOPES, cluster="prod-west")
    running = [watchers(east_url, "prod-east", key=east_key), watchers(west_url, "prod-west", key=west_key)]
    agent = catalog.key("executions:write")
    in_east = [execute(catalog, agent, "prod-east", name=f"east-{n}") for n in range(3)]
    in_west = [execute(catalog, agent, "prod-west", name=f"west-{n}") for n in range(2)]
    for emulator, executions in ((east, in_east), (west, in_west)):
        for execution in executions:
            run_of(emulator, execution)
    for execution in in_east + in_west:
        catalog.wait_status(execution["execution_id"], "running")
    assert sorted(run["metadata"]["name"] for run in east.objects(PIPELINE_RUNS)) == sorted(
        e["pipeline_run"]["metadata"]["name"] for e in in_east)
    assert sorted(run["metadata"]["name"] for run in west.objects(PIPELINE_RUNS)) == sorted(
        e["pipeline_run"]["metadata"]["name"] for e in in_west)

    # A runner key of one cluster reporting on another cluster's execution, and a key that may start executions
    # but is no runner: 403, and the catalog's rows stay as they were (the watchers stopped: no heartbeat moves them).
    for process in running:
        assert process.stop() == 0
    target = in_east[0]["execution_id"]
    before = catalog_dump(db)
    for key in (west_key, agent, catalog.key("executions:write", "executions:approve", "catalog:write")):
        for status in ("running", "succeeded", "failed"):
            refused = catalog.call("PATCH", f"{EXECUTIONS}/{target}", key, {"status": status})
            assert refused.status_code == 403, refused.text
    assert catalog.call("POST", f"{EXECUTIONS}/claim", agent, {"runner_id": "sneaky"}).status_code == 403
    assert catalog_dump(db) == before


def test_twenty_runners_claiming_at_once_never_share_an_execution(catalog: Catalog) -> None:
    agent, runner = catalog.key("executions:write"), catalog.key("executions:run", cluster="prod-east")
    # 40 at once is beyond the workflow's default blast radius (DEFAULT_MAX_CONCURRENT): raise it, as an operator would.
    raised = catalog.call("PATCH", "/api/v1/playbooks/stuck-rollout-restart", catalog.key("catalog:write"),
                          {"guards": {"max_concurrent": 40}, "reason": "a fleet-wide rollout, forty at once"})
    assert raised.status_code == 200, raised.text
    created = {execute(catalog, agent, "prod-east", name=f"app-{n}")["execution_id"] for n in range(40)}
    barrier = threading.Barrier(20)
    got: dict[int, list[str]] = {}

    def claim(index: int) -> None:
        session = requests.Session()
        barrier.wait()
        mine: list[str] = []
        while True:
            response = session.post(f"{catalog.url}{EXECUTIONS}/claim", timeout=30,
                                    json={"runner_id": f"runner-{index}", "max": 3},
                                    headers={"Authorization": f"Bearer {runner}"})
            assert response.status_code == 200, response.text
            new = [item["execution_id"] for item in response.json()["items"] if item["execution_id"] not in mine]
            if not new:
                break
            mine += new
        got[index] = mine

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claimed = [execution_id for mine in got.values() for execution_id in mine]
    assert len(got) == 20 and len(set(claimed)) == len(claimed)  # never one execution to two runners
    # A claim skips the rows other claims hold at that moment, so a runner may see nothing while some are left:
    # the next claim gets them. Every execution is claimed exactly once.
    rest = catalog.call("POST", f"{EXECUTIONS}/claim", runner, {"runner_id": "last", "max": 10}).json()["items"]
    assert sorted(claimed + [item["execution_id"] for item in rest]) == sorted(created)


def test_an_execution_whose_runner_keeps_losing_it_fails_as_runner_lost(catalog: Catalog, db: Database) -> None:
    agent, runner = catalog.key("executions:write"), catalog.key("executions:run", cluster="prod-east")
    execution_id = execute(catalog, agent, "prod-east", secret=True)["execution_id"]
    for attempt in range(3):
        claimed = catalog.call("POST", f"{EXECUTIONS}/claim", runner, {"runner_id": f"doomed-{attempt}"}).json()
        assert [item["execution_id"] for item in claimed["items"]] == [execution_id]
        lapse(db, execution_id)  # its lease ends with no report (CLAIM_LEASE_SECONDS, passed)
        services().maintenance.run()  # the maintenance round counts the lapse
    record = catalog.execution(execution_id)
    assert (record["status"], record["reason"], record["lease"]["lapses"]) == ("failed", "runner-lost", 3)
    assert held(db) == 0
    late = catalog.call("PATCH", f"{EXECUTIONS}/{execution_id}", runner, {"status": "running"})
    assert late.status_code == 409


def test_nothing_runs_while_awaiting_approval_or_approved(
    catalog: Catalog, client: ApiClient, clusters: Callable[[], tuple[KubeEmulator, str]],
    watchers: Callable[..., WatcherProcess],
) -> None:
    emulator, url = clusters()
    create_workflow(client, workflow_id="restart-ungated")
    require_approval(client)
    watchers(url, "default")
    requested = client.post(EXECUTIONS, {"workflow_id": "stuck-rollout-restart", "incident": incident(),
                                         "parameters": stuck_parameters(),
                                         "target": {"kind": "Deployment", "namespace": "shop", "name": "gated"}},
                            scopes=REQUESTER)
    execution_id = requested.json["execution_id"]
    # The runner is claiming: an execution of a workflow without approval runs.
    probe = execute(catalog, catalog.key("executions:write"), name="probe", workflow_id="restart-ungated")
    run_of(emulator, probe)
    assert decide(client, execution_id, "approve").status == 200
    control = execute(catalog, catalog.key("executions:write"), name="control", workflow_id="restart-ungated")
    run_of(emulator, control)  # claimed after the approval: the approved one was not
    assert catalog.execution(execution_id)["status"] == "approved" and len(emulator.objects(PIPELINE_RUNS)) == 2
    started = release(client, execution_id)
    assert started.status == 200
    run_of(emulator, started.json)
    catalog.wait_status(execution_id, "running")
