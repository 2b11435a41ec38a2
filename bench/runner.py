"""The in-cluster runner's latencies, and what idle waiting runners cost the database.

Starts a fresh embedded PostgreSQL, the catalog (`make run`'s server, as a process, examples loaded), the
in-memory Kubernetes API server (tests/support/kube_emulator.py) and the watcher (`python -m watcher`, as a
process, with the long poll: CLAIM_WAIT_SECONDS=20, CLAIM_INTERVAL_SECONDS=0, RUNNER_CONCURRENCY=10), then

1. executions: an agent starts --executions executions (`POST /api/v1/executions`, stuck-rollout-restart with a
   writeOnly value, each on its own target) at --rate a second; this script plays Tekton: each PipelineRun the
   runner creates is marked running, then succeeded --run-seconds later. Measured per execution:
   "pending -> PipelineRun created" (the execution's created_at in the catalog to the create in the API server)
   and "PipelineRun finished -> final status" (the succeeded mark to the catalog's succeeded event);
2. idle runners: the database's transactions per second over --idle-seconds, before any runner started, and
   once everything has run, with the watcher and --idle-runners more runners each long-polling
   (`POST /api/v1/executions/claim`, wait_seconds 20, in a loop). The difference, per runner, is what an idle
   waiting runner costs the database (pg_stat_database xact_commit + xact_rollback; each look is one
   autocommit SELECT, each claim also one claiming transaction).

    .venv/bin/python bench/runner.py --executions 200 --rate 10 --idle-runners 10 --idle-seconds 60

Targets (issue 23): p50 <= 1 s and <= 2 s, p99 <= 3 s; about one query a second or less per waiting runner.
Last line: `created p50 A s p99 B s final p50 C s p99 D s idle X queries/s per runner lost L`. Exits non-zero
when an execution did not succeed (lost), had other than one PipelineRun, or an answer was wrong; the targets are
reported, not enforced (a loaded machine misses them without anything being wrong).
"""

from __future__ import annotations

import argparse
import heapq
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Client, percentile
from search_quality import PROJECT_DIR, start_database

sys.path.insert(0, str(PROJECT_DIR))

import psycopg2

from tests.support.kube_emulator import PIPELINE_RUNS, KubeEmulator
from tests.support.server import CatalogProcess
from tests.support.watcher_process import WatcherProcess, kubeconfig, probe

RUN_NS = "kubernaut-workflows"
WORKFLOW = "stuck-rollout-restart"  # an example `make run` loads; NOTIFY_WEBHOOK_TOKEN is writeOnly
INCIDENT = {"id": "INC-BENCH", "signal_type": "DeploymentRolloutStuck", "severity": "high"}
TIMEOUT_SECONDS = 120.0


class Tekton(KubeEmulator):
    """The in-memory API server, recording when each PipelineRun is created, and Tekton's controller: each run is
    marked running, then succeeded ``run_seconds`` after its creation (the time of that mark recorded)."""

    def __init__(self, run_seconds: float) -> None:
        super().__init__()
        self.run_seconds = run_seconds
        self.created: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self._due: list[tuple[float, str]] = []
        self._wake = threading.Condition()
        self.stopped = False

    def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        created = super().create(plural, namespace, body)
        if plural == PIPELINE_RUNS:
            now = time.time()
            with self._wake:
                self.created[created["metadata"]["name"]] = now
                heapq.heappush(self._due, (now + self.run_seconds, created["metadata"]["name"]))
                self._wake.notify()
        return created

    def play(self) -> None:
        while not self.stopped:
            with self._wake:
                if not self._due or self._due[0][0] > time.time():
                    self._wake.wait(timeout=min(0.05, max(0.0, self._due[0][0] - time.time())) if self._due
                                    else 0.05)
                    continue
                _, name = heapq.heappop(self._due)
            self.mark_running(RUN_NS, name)
            self.finished[name] = time.time()
            self.mark_succeeded(RUN_NS, name)


def start_executions(url: str, key: str, count: int, rate: float) -> list[str]:
    """Starts ``count`` executions at ``rate`` a second; returns their ids (an answer other than 201 exits)."""
    client = Client(url, key)
    # A fleet-wide run: the workflow's guard limits raised for it, as an operator would (README, "Guardrails").
    status, body = client.request("PATCH", f"/api/v1/playbooks/{WORKFLOW}", {
        "guards": {"max_executions_per_hour": max(count, 1), "max_concurrent": max(count, 1)},
        "reason": "the runner benchmark starts every execution within minutes"})
    if status != 200:
        sys.exit(f"raising the guard limits answered {status}: {body}")
    ids = []
    began = time.monotonic()
    for index in range(count):
        time.sleep(max(0.0, began + index / rate - time.monotonic()))
        status, body = client.request("POST", "/api/v1/executions", {
            "workflow_id": WORKFLOW, "incident": INCIDENT,
            "target": {"kind": "Deployment", "namespace": "shop", "name": f"bench-{index}"},
            "parameters": {"TARGET_NAMESPACE": "shop", "TARGET_DEPLOYMENT": f"bench-{index}",
                           "NOTIFY_CHANNEL": "#ops", "NOTIFY_WEBHOOK_TOKEN": f"token-{index}"}})
        if status != 201 or body["status"] != "pending":
            sys.exit(f"starting execution {index} answered {status}: {body}")
        ids.append(body["execution_id"])
    client.close()
    return ids


def finished_rows(database_url: str) -> dict[str, dict[str, Any]]:
    """Per execution: its status, its PipelineRun's name, created_at and the time it was recorded succeeded."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT e.execution_id::text, e.status, e.pipeline_run_name,
                              extract(epoch FROM e.created_at)::float8,
                              (SELECT extract(epoch FROM v.changed_at)::float8 FROM execution_events v
                               WHERE v.execution_id = e.execution_id AND v.to_status = 'succeeded')
                       FROM executions e""")
        rows = {row[0]: {"status": row[1], "run": row[2], "created_at": row[3], "succeeded_at": row[4]}
                for row in cur.fetchall()}
    conn.close()
    return rows


def transactions(database_url: str) -> int:
    """Committed and rolled back transactions of the catalog's database so far (a fresh connection, so a fresh
    statistics snapshot; the counters of other backends reach it within a second)."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        (count,) = cur.fetchone()  # type: ignore[misc]
    conn.close()
    return int(count)


def idle_rate(database_url: str, seconds: float) -> float:
    """Transactions a second over ``seconds`` (the measuring connections' own two subtracted)."""
    time.sleep(1.5)  # counters of what happened before reach the statistics
    before = transactions(database_url)
    time.sleep(seconds)
    time.sleep(1.5)
    return (transactions(database_url) - before - 1) / seconds


def idle_runners(url: str, key: str, count: int, stop: threading.Event) -> list[str]:
    """``count`` runners long-polling a cluster with no work (each claim waits 20 s), until ``stop`` (the last
    claims end with the server). Returns the list their problems are added to (a wrong answer, or a failed
    request before ``stop``; the runner stops there): a thread cannot exit the benchmark, ``main`` does."""
    problems: list[str] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        client = Client(url, key)
        try:
            while not stop.is_set():
                try:
                    status, body = client.request("POST", "/api/v1/executions/claim",
                                                  {"runner_id": f"idle-{index}", "max": 1, "wait_seconds": 20})
                except Exception as error:  # a reset, a timeout, an unreadable answer
                    if stop.is_set():  # the server stopped under the last claim
                        return
                    problem = f"idle runner {index}: {type(error).__name__}: {error}"
                else:
                    if status == 200 and isinstance(body, dict) and body.get("items") == []:
                        continue
                    problem = f"idle runner {index}: a claim answered {status}: {str(body)[:200]}"
                with lock:
                    problems.append(problem)
                return
        finally:
            client.close()

    for index in range(count):
        threading.Thread(target=run, args=(index,), daemon=True).start()
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="executions started a second")
    parser.add_argument("--run-seconds", type=float, default=0.5, help="how long each PipelineRun runs")
    parser.add_argument("--concurrency", type=int, default=10, help="the watcher's RUNNER_CONCURRENCY")
    parser.add_argument("--idle-runners", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()

    os.environ["LOG_LEVEL"] = "WARNING"  # this process's own work (creating the database) is not the output
    start_database("default")  # a fresh embedded PostgreSQL, migrated; DATABASE_URL names it
    database_url = os.environ["DATABASE_URL"]
    # No maintenance round during the measurements (it would count as database load).
    env = {"DATABASE_URL": database_url, "POWERTOOLS_METRICS_DISABLED": "true", "LOG_LEVEL": "WARNING",
           "REGISTRATION_SWEEP_SECONDS": "3600"}
    tekton = Tekton(args.run_seconds)
    # The watcher's key and kubeconfig, deleted with the run (make test fails on anything left in the temp folder).
    with tempfile.TemporaryDirectory(prefix="runner-bench-") as tmp, CatalogProcess(env=env) as server, \
            tekton.serving() as kube_url:
        folder = Path(tmp)
        idle = idle_rate(database_url, args.idle_seconds)  # before any runner: the catalog alone
        player = threading.Thread(target=tekton.play, daemon=True)
        player.start()
        (folder / "key").write_text(server.key)
        watcher = WatcherProcess({
            "CATALOG_URL": server.url, "CATALOG_API_KEY_FILE": str(folder / "key"), "RUNNER_ID": "bench-runner",
            "KUBECONFIG": str(kubeconfig(folder / "kubeconfig", kube_url)), "RUN_NAMESPACE": RUN_NS,
            "WATCH_NAMESPACE": "bench", "RUNNER_CONCURRENCY": str(args.concurrency), "CLAIM_WAIT_SECONDS": "20",
            "CLAIM_INTERVAL_SECONDS": "0", "LOG_LEVEL": "WARNING"})
        try:
            deadline = time.monotonic() + 30
            while probe(watcher.port, "/healthz") != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # its first claim answered: now it waits in a long poll

            began = time.monotonic()
            ids = start_executions(server.url, server.key, args.executions, args.rate)
            deadline = time.monotonic() + TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                rows = finished_rows(database_url)
                if all(rows[execution_id]["succeeded_at"] is not None for execution_id in ids):
                    break
                time.sleep(0.2)
            took = time.monotonic() - began

            # Nothing to run now: the watcher waits in its long poll, and so do the other idle runners.
            stop = threading.Event()
            problems = idle_runners(server.url, server.key, args.idle_runners, stop)
            waiting = idle_rate(database_url, args.idle_seconds)
            stop.set()
        finally:
            tekton.stopped = True
            watcher.stop()

    rows = finished_rows(database_url)
    lost = [execution_id for execution_id in ids if rows[execution_id]["status"] != "succeeded"]
    created = [tekton.created[row["run"]] - row["created_at"] for row in rows.values() if row["run"] in tekton.created]
    final = [row["succeeded_at"] - tekton.finished[row["run"]] for row in rows.values()
             if row["succeeded_at"] is not None and row["run"] in tekton.finished]
    runners = args.idle_runners + 1  # the watcher is one of them
    per_runner = (waiting - idle) / runners
    print(f"executions: {args.executions} started at {args.rate:g}/s, each run {args.run_seconds:g} s, runner "
          f"concurrency {args.concurrency}: done in {took:.1f} s, {len(lost)} not succeeded, "
          f"{len(tekton.created)} PipelineRuns created")
    print(f"idle: {idle:.2f} transactions/s with no runner, {waiting:.2f} with {runners} waiting runners (over "
          f"{args.idle_seconds:g} s each): {per_runner:.2f} queries/s per waiting runner")
    wrong = list(problems)  # the idle runners' wrong answers and failed requests
    for problem in wrong:
        print(f"  error: {problem}")
    if not created or not final:
        sys.exit("nothing was measured")
    met = (statistics.median(created) <= 1 and statistics.median(final) <= 2 and percentile(created, 0.99) <= 3
           and percentile(final, 0.99) <= 3 and per_runner <= 1.2)
    print(f"targets (p50 <= 1 s and <= 2 s, p99 <= 3 s, about 1 query/s per waiting runner): "
          f"{'met' if met else 'NOT met'}")
    print(f"created p50 {statistics.median(created):.3f} s p99 {percentile(created, 0.99):.3f} s "
          f"final p50 {statistics.median(final):.3f} s p99 {percentile(final, 0.99):.3f} s "
          f"idle {per_runner:.2f} queries/s per runner lost {len(lost)}")
    # Each execution succeeded, with exactly one PipelineRun, and every idle claim was answered right.
    if lost or len(tekton.created) != args.executions or wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
