"""What the guardrails cost a start: p50/p99 of POST /api/v1/executions with and without the guards, on a catalog
holding --executions past executions of the benchmarked workflow (bulk-loaded with COPY).

Starts a fresh embedded PostgreSQL and `make run`'s local server in this process, creates the workflow (its limits
raised, as a busy workflow's would be, so that every request is one the guards let through), loads the history:
executions over the last 30 days on --targets targets (90 % succeeded, 10 % failed; a few in the last hour; of the
successes 70 % judged effective, 20 % ineffective, 10 % unknown, never twice ineffective on a target within a day), then
sends --requests starts, one at a time on one keep-alive connection, each on a target of that history (its own, last
remediated long ago), and reports each run to its end (succeeded) after the measurement. Half of the starts run
without the guards: the same server with the guard check (chalicelib/services/guards.py ``enforce``: the one query
and the policy) skipped, and the finishing reports without the circuit breaker's evaluation (``trip_breaker``); the
halves alternate in rounds so that drift in the machine's load hits both alike. Every answer must be 201 (200 for
the reports). It also times the guard query alone, straight on the database.

    .venv/bin/python bench/guards.py --executions 100000 --requests 2000

Target (README, "Benchmarks"): the guards add at most 5 ms at p99. Last line:
`with guards p50 A ms p99 B ms | without p50 C ms p99 D ms | added p50 E ms p99 F ms`. Exits non-zero when an
answer was wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Client, percentile
from search_quality import PROJECT_DIR, start_database

sys.path.insert(0, str(PROJECT_DIR))

WORKFLOW = json.loads((PROJECT_DIR / "examples/workflows/stuck-rollout-restart.json").read_text())
WORKFLOW_ID = WORKFLOW["workflow_id"]
IMAGE = WORKFLOW["container_image"]
ROUNDS = 10
WARM_UP = 10
HISTORY_DAYS = 30
COLUMNS = ("execution_id", "workflow_id", "version", "container_image", "parameters", "incident", "incident_id",
           "pipeline_run_name", "status", "created_by", "created_at", "started_at", "finished_at", "updated_at",
           "target_kind", "target_namespace", "target_name", "effectiveness", "effectiveness_window_ends_at",
           "effectiveness_judged_at", "effectiveness_evidence")
VERDICT_SHARES = (("effective", 0.7), ("ineffective", 0.2), ("unknown", 0.1))


def target(index: int) -> dict[str, str]:
    return {"kind": "Deployment", "namespace": f"team-{index % 40}", "name": f"svc-{index}"}


def history_rows(executions: int, targets: int, now: datetime) -> list[list[str]]:
    """Past executions of the workflow, each finished a few minutes after its request, on a random target of the
    history, requested over the last HISTORY_DAYS but not the last half hour (no cooldown left anywhere; about
    70 of 100,000 fall in the last hour). One in ten failed, except each target's newest (a streak of failures
    would refuse a start there: the benchmark times starts the guards let through)."""
    rng = random.Random(7)
    span = timedelta(days=HISTORY_DAYS).total_seconds()
    rows: list[list[str]] = []
    newest: dict[str, tuple[datetime, int]] = {}  # per target: its newest finish, and the row of it
    ineffective_today: set[str] = set()  # targets with an ineffective verdict of the last day (a second would refuse)
    for index in range(executions):
        created = now - timedelta(seconds=rng.uniform(1800, span))
        finished = created + timedelta(seconds=rng.uniform(20, 300))
        on = target(rng.randrange(targets))
        execution_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        verdict = rng.choices([v for v, _ in VERDICT_SHARES], [share for _, share in VERDICT_SHARES])[0]
        if verdict == "ineffective" and now - finished < timedelta(days=1):
            verdict = "effective" if on["name"] in ineffective_today else verdict
            ineffective_today.add(on["name"])
        window = finished + timedelta(seconds=600)
        rows.append([execution_id, WORKFLOW_ID, "1.0.0", IMAGE,
                     json.dumps({"TARGET_NAMESPACE": on["namespace"], "TARGET_DEPLOYMENT": on["name"]}),
                     json.dumps({"id": "INC-HISTORY", "signal_type": "DeploymentRolloutStuck"}), "INC-HISTORY",
                     f"rw-{execution_id}", "failed" if rng.random() < 0.1 else "succeeded", "history",
                     created.isoformat(), created.isoformat(), finished.isoformat(), finished.isoformat(),
                     on["kind"], on["namespace"], on["name"], verdict, window.isoformat(), window.isoformat(), "{}"])
        if on["name"] not in newest or newest[on["name"]][0] < finished:
            newest[on["name"]] = (finished, index)
    for _, index in newest.values():
        rows[index][COLUMNS.index("status")] = "succeeded"
    for row in rows:
        if row[COLUMNS.index("status")] == "failed":  # only a success is judged
            row[COLUMNS.index("effectiveness"):] = ["", "", "", ""]
    return rows


def start_request(on: dict[str, str]) -> dict[str, Any]:
    return {"workflow_id": WORKFLOW_ID, "target": on,
            "incident": {"id": f"INC-{on['name']}", "signal_type": "DeploymentRolloutStuck"},
            "parameters": {"TARGET_NAMESPACE": on["namespace"], "TARGET_DEPLOYMENT": on["name"]}}


def load_history(database_url: str, executions: int, targets: int) -> float:
    """COPYs the history into executions; seconds taken (ANALYZE included)."""
    import psycopg2

    began = time.perf_counter()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in history_rows(executions, targets, datetime.now(UTC)):
        writer.writerow(row)
    buffer.seek(0)
    connection = psycopg2.connect(database_url)
    try:
        with connection, connection.cursor() as cur:
            cur.copy_expert(f"COPY executions ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer)
        connection.autocommit = True
        with connection.cursor() as cur:
            cur.execute("ANALYZE executions")
    finally:
        connection.close()
    return time.perf_counter() - began


@contextlib.contextmanager
def without_guards() -> Iterator[None]:
    """The server with the guard check and the breaker's evaluation skipped (the baseline)."""
    from chalicelib.services import guards

    enforce, trip = guards.enforce, guards.trip_breaker
    guards.enforce = lambda *args, **kwargs: None
    guards.trip_breaker = lambda *args, **kwargs: None
    try:
        yield
    finally:
        guards.enforce, guards.trip_breaker = enforce, trip


def figures(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.50):.2f} ms p99 {percentile(values, 0.99):.2f} ms"


def time_query(samples: int, targets: int) -> list[float]:
    """The guard query alone (chalicelib/stores/guard_store.py guard_facts), straight on the database."""
    from chalicelib.container import services
    from chalicelib.domain.executions import Target
    from chalicelib.stores.guard_store import guard_facts

    settings = services().settings.guard_defaults
    durations = []
    with services().db.transaction() as tx:
        for index in range(samples):
            on = target(index % targets)
            began = time.perf_counter()
            guard_facts(tx, WORKFLOW_ID, Target(on["kind"], on["name"], on["namespace"]), "DeploymentRolloutStuck",
                        settings)
            durations.append((time.perf_counter() - began) * 1000)
    return durations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=100_000, help="past executions to load")
    parser.add_argument("--targets", type=int, default=5_000, help="targets the history is spread over")
    parser.add_argument("--requests", type=int, default=2_000, help="starts to time, half of them without guards")
    args = parser.parse_args()
    if args.requests > args.targets:
        parser.error("--requests must not exceed --targets: each start needs a target of its own")

    start_database("default")
    from chalice.config import Config

    from app import app
    from chalicelib.container import services
    from devserver.local_server import LocalServer

    _, key = services().api_keys.create("bench guards", ["admin"])
    errors: list[str] = []
    timed: dict[str, list[float]] = {"with": [], "without": []}
    finished: dict[str, list[float]] = {"with": [], "without": []}
    with LocalServer(app, Config.create(chalice_stage="local"), "127.0.0.1", 0).running() as server:
        api = Client(server.url, key)
        status, body = api.request("POST", "/api/v1/playbooks", WORKFLOW)
        assert status == 201, body
        status, body = api.request("PATCH", f"/api/v1/playbooks/{WORKFLOW_ID}", {
            "guards": {"max_executions_per_hour": 10_000, "max_concurrent": 1_000},
            "reason": "a busy workflow: the benchmark times starts the guards let through"})
        assert status == 200, body
        loaded = load_history(os.environ["DATABASE_URL"], args.executions, args.targets)
        print(f"history: {args.executions} executions on {args.targets} targets loaded with COPY in {loaded:.1f} s")
        for index in range(WARM_UP):  # the server's first requests open its database connections: not timed
            status, body = api.request("POST", "/api/v1/executions", start_request({
                "kind": "Deployment", "namespace": "warm-up", "name": f"svc-{index}"}))
            assert status == 201, body
        order = random.Random(11).sample(range(args.targets), args.requests)
        per_round = max(1, args.requests // (2 * ROUNDS))
        for round_start in range(0, args.requests, 2 * per_round):
            for mode, chunk in (("with", order[round_start:round_start + per_round]),
                                ("without", order[round_start + per_round:round_start + 2 * per_round])):
                with without_guards() if mode == "without" else contextlib.nullcontext():
                    for index in chunk:
                        began = time.perf_counter()
                        status, body = api.request("POST", "/api/v1/executions", start_request(target(index)))
                        timed[mode].append((time.perf_counter() - began) * 1000)
                        if status != 201:
                            errors.append(f"start {status}: {str(body)[:300]}")
                            continue
                        path = f"/api/v1/executions/{body['execution_id']}"
                        for step in ("running", "succeeded"):
                            began = time.perf_counter()
                            status, answer = api.request("PATCH", path, {"status": step})
                            if step == "succeeded":
                                finished[mode].append((time.perf_counter() - began) * 1000)
                            if status != 200:
                                errors.append(f"report {status}: {str(answer)[:300]}")
        api.close()
    query = time_query(min(1000, args.targets), args.targets)
    print(f"guard query alone ({len(query)} targets): {figures(query)}")
    print(f"finish (PATCH succeeded): with the breaker {figures(finished['with'])} | "
          f"without {figures(finished['without'])}")
    for message in errors[:10]:
        print("error:", message)
    with_, without = timed["with"], timed["without"]
    print(f"starts timed: {len(with_)} with guards, {len(without)} without; errors {len(errors)}")
    print(f"with guards {figures(with_)} | without {figures(without)} | added "
          f"p50 {percentile(with_, 0.5) - percentile(without, 0.5):.2f} ms "
          f"p99 {percentile(with_, 0.99) - percentile(without, 0.99):.2f} ms")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
