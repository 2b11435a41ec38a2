"""The runner in real ``python -m watcher`` processes: killed with SIGKILL between a claim and the create, and
restarted after a run finished while no watcher ran. The in-memory Kubernetes API server
(tests/support/kube_emulator.py) and the fake catalog's runner endpoints (tests/support/fake_catalog.py says
why they are a fake) are the other ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.support.fake_api import wait_until
from tests.support.fake_catalog import FakeCatalog
from tests.support.kube_emulator import EVENTS, PIPELINE_RUNS, SECRETS, KubeEmulator
from tests.support.watcher_process import WatcherProcess, kubeconfig, probe

RUN_NS = "kubernaut-workflows"
SECRET = "pa55-w0rd-only-in-the-secret"


@pytest.fixture
def catalog(runner_catalog: FakeCatalog) -> FakeCatalog:
    runner_catalog.executions.lease_seconds = 15.0  # longer than a restart takes
    return runner_catalog


@pytest.fixture
def env(kube: tuple[KubeEmulator, str], catalog_server: HTTPServer, key_file: Path, tmp_path: Path) -> dict[str, str]:
    return {"CATALOG_URL": catalog_server.url_for(""), "CATALOG_API_KEY_FILE": str(key_file),
            "KUBECONFIG": str(kubeconfig(tmp_path / "kubeconfig", kube[1])), "RUNNER_ID": "runner-a",
            "RUN_NAMESPACE": RUN_NS, "RUNNER_CONCURRENCY": "2", "CLAIM_WAIT_SECONDS": "20", "CLAIM_INTERVAL_SECONDS": "0"}


@pytest.fixture
def processes() -> Iterator[list[WatcherProcess]]:
    started: list[WatcherProcess] = []
    yield started
    for process in started:
        process.stop()


def test_killed_after_the_claim_before_the_create_a_restart_runs_it_exactly_once(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, env: dict[str, str], processes: list[WatcherProcess],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    execution_id = executions.add(secrets={"DB_PASSWORD": SECRET})
    name = executions.get(execution_id).pipeline_run["metadata"]["name"]
    emulator.stalled_creates.add(PIPELINE_RUNS)  # the create hangs: the process dies before it is done

    first = WatcherProcess(env)
    processes.append(first)
    wait_until(lambda: any(method == "POST" and path.endswith("/pipelineruns") for method, path in emulator.requests))
    assert len(emulator.objects(SECRETS, RUN_NS)) == 1  # the Secret comes first, as the interface says
    first.kill()
    emulator.stalled_creates.clear()  # the hung request ends having created nothing
    assert emulator.objects(PIPELINE_RUNS) == []
    assert (executions.get(execution_id).status, executions.get(execution_id).holder) == ("pending", "runner-a")

    second = WatcherProcess(env)
    processes.append(second)
    run = emulator.wait_for(RUN_NS, name, lambda obj: True, timeout=30, plural=PIPELINE_RUNS)
    executions.wait_for(lambda ex: ex.reported(execution_id) == ["running"])
    emulator.mark_running(RUN_NS, name)
    emulator.mark_succeeded(RUN_NS, name)
    executions.wait_for(lambda ex: ex.get(execution_id).status == "succeeded")
    wait_until(lambda: probe(second.port, "/healthz") == 200)
    assert second.stop() == 0

    # Exactly one of each; the Secret (AlreadyExists on the second try) still became the run's dependent.
    assert [obj["metadata"]["name"] for obj in emulator.objects(PIPELINE_RUNS)] == [name]
    (secret,) = emulator.objects(SECRETS)
    assert [owner["uid"] for owner in secret["metadata"]["ownerReferences"]] == [run["metadata"]["uid"]]
    # The same runner id got its execution back with its next claim: no lease had to lapse first.
    assert executions.lapsed == []
    result = executions.get(execution_id).result
    assert result["started_at"] and result["finished_at"] and result["reason"] == "Succeeded"
    # The writeOnly value: in the Secret only; never in the run, the logs, or the catalog after `running`.
    assert SECRET not in str(run)
    assert SECRET not in first.output() + second.output()
    assert executions.get(execution_id).sealed is None
    messages = [(line["message"], line.get("execution_id")) for line in second.lines()]
    assert ("pipelinerun created", execution_id) in messages and ("execution reported", execution_id) in messages


def test_a_run_that_finished_while_no_watcher_ran_is_reported_after_the_restart(
    kube: tuple[KubeEmulator, str], catalog: FakeCatalog, env: dict[str, str], processes: list[WatcherProcess],
) -> None:
    emulator, _ = kube
    executions = catalog.executions
    finished, still_running = executions.add(), executions.add()
    names = {eid: executions.get(eid).pipeline_run["metadata"]["name"] for eid in (finished, still_running)}

    first = WatcherProcess(env)
    processes.append(first)
    executions.wait_for(lambda ex: ex.reported(finished) == ["running"] and ex.reported(still_running) == ["running"])
    assert first.stop() == 0  # SIGTERM
    emulator.mark_failed(RUN_NS, names[finished], reason="PipelineRunTimeout", message="took too long",
                         started_at="2026-03-01T10:00:00Z", finished_at="2026-03-01T10:10:00Z")
    emulator.mark_running(RUN_NS, names[still_running], started_at="2026-03-01T10:05:00Z")
    emulator.compact()  # and the watch history is gone: only a list can tell

    second = WatcherProcess(env)
    processes.append(second)
    executions.wait_for(lambda ex: ex.get(finished).status == "failed", timeout=30)
    result = executions.get(finished).result
    assert (result["reason"], result["message"], result["started_at"], result["finished_at"]) == (
        "PipelineRunTimeout", "took too long", "2026-03-01T10:00:00Z", "2026-03-01T10:10:00Z")
    # The one still running is followed again: its start time reported, its lease kept.
    executions.wait_for(lambda ex: ex.get(still_running).result.get("started_at") == "2026-03-01T10:05:00Z")
    emulator.mark_succeeded(RUN_NS, names[still_running])
    executions.wait_for(lambda ex: ex.get(still_running).status == "succeeded")
    assert len(emulator.objects(PIPELINE_RUNS)) == 2  # nothing created twice
    wait_until(lambda: {event["reason"] for event in emulator.objects(EVENTS)} >= {
        "ExecutionRunning", "ExecutionFailed", "ExecutionSucceeded"})
