"""Load on a running catalog server: many concurrent HTTP clients mixing search, list, get and create.

Every answer is checked, not only counted: a search must answer 200 with results ordered by score,
a get must return the workflow asked for, a create must answer 201 with its own version, and after
the run every created workflow must be readable (no lost write). Anything else (another status, a
connection reset, a timeout, a mixed-up body) is an error.

    make run                                   # in another terminal (or use --spawn)
    .venv/bin/python bench/load.py --clients 32 --requests 2000
    .venv/bin/python bench/load.py --spawn --clients 128 --requests 4000
    .venv/bin/python bench/load.py --spawn --clients 32 --requests 32 --mix create=1   # 32 concurrent creates

The key comes from --key, else $KEY, else the dev key `make run` keeps in .var/dev-api-key.
Last line: `clients C req/s X p50 A ms p99 B ms errors E`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from tests.support.server import CatalogProcess  # noqa: E402  (the project root is on sys.path now)

DEFAULT_MIX = "search=4,list=2,get=3,create=1"
TIMEOUT_SECONDS = 30.0
QUERIES = [
    "pod OOMKilled memory limit",
    "container crash looping after deploy",
    "node disk pressure full",
    "certificate expires soon",
    "persistent volume filling up",
    "rollout stuck progress deadline exceeded",
]
EXAMPLE_IDS = [
    "oomkill-increase-memory",
    "crashloop-rollback",
    "node-disk-cleanup",
    "certificate-renew",
    "pvc-expand",
    "stuck-rollout-restart",
]


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` (0.5, 0.99) of ``values`` lie (0.0 for none); every benchmark's p50 and p99."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class LoadResult:
    clients: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: list[str] = field(default_factory=list)
    by_operation: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, share: float) -> float:
        return percentile(self.latencies_ms, share)

    def summary(self) -> str:
        return (
            f"clients {self.clients} req/s {self.rate:.1f} p50 {self.percentile(0.50):.1f} ms "
            f"p99 {self.percentile(0.99):.1f} ms errors {len(self.errors)}"
        )


class Client:
    """One keep-alive HTTP connection, as a client library would hold it."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._headers = {"Authorization": f"Bearer {key}"}
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_SECONDS)
        try:
            self._connection.request(method, path, body=data, headers=headers)
            response = self._connection.getresponse()
            raw = response.read()
        except Exception:
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, json.loads(raw) if raw else None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def new_version(workflow_id: str) -> dict[str, Any]:
    return {
        "workflow_id": workflow_id,
        "version": "1.0.0",
        "title": f"Load test workflow {workflow_id}",
        "description": "Restarts the pods of a deployment whose rollout is stuck; created by bench/load.py.",
        "labels": {"signal_type": "LoadTest", "severity": "low", "environment": "*", "component": "deployment"},
        "container_image": "registry.example/load/restart:1.0.0@sha256:" + "ab" * 32,
        "parameters": {
            "type": "object",
            "properties": {"TARGET_NAMESPACE": {"type": "string", "description": "Namespace"}},
            "required": ["TARGET_NAMESPACE"],
        },
    }


def operation(kind: str, client: Client, rng: random.Random, created: list[str], run_id: str) -> str | None:
    """Runs one request of ``kind``; returns an error description, or None when the answer is right."""
    if kind == "search":
        status, body = client.request("GET", f"/api/v1/playbooks/search?query={quote(rng.choice(QUERIES))}")
        if status != 200:
            return f"search answered {status}"
        scores = [result["score"] for result in body["results"]]
        return None if scores == sorted(scores, reverse=True) else "search results out of order"
    if kind == "list":
        status, body = client.request("GET", "/api/v1/playbooks?limit=50")
        return None if status == 200 and isinstance(body.get("items"), list) else f"list answered {status}"
    if kind == "get":
        wanted = rng.choice(EXAMPLE_IDS)
        status, body = client.request("GET", f"/api/v1/playbooks/{wanted}")
        if status != 200:
            return f"get answered {status}"
        return None if body["workflow_id"] == wanted else f"get {wanted} returned {body['workflow_id']}"
    if kind == "create":
        workflow_id = f"load-{run_id}-{uuid.uuid4().hex[:12]}"
        status, body = client.request("POST", "/api/v1/playbooks", new_version(workflow_id))
        if status != 201:
            return f"create answered {status}"
        if body["workflow_id"] != workflow_id:
            return f"create {workflow_id} returned {body['workflow_id']}"
        created.append(workflow_id)
        return None
    raise ValueError(f"unknown operation {kind}")


def parse_mix(text: str) -> list[tuple[str, int]]:
    mix = []
    for part in text.split(","):
        kind, _, weight = part.partition("=")
        mix.append((kind.strip(), int(weight or 1)))
    return mix


def run_load(url: str, key: str, clients: int, requests: int, mix: str = DEFAULT_MIX, seed: int = 7) -> LoadResult:
    """``requests`` requests spread over ``clients`` concurrent clients, all started at once."""
    kinds = [kind for kind, weight in parse_mix(mix) for _ in range(weight)]
    run_id = uuid.uuid4().hex[:6]
    latencies: list[float] = []
    by_operation: dict[str, list[float]] = {}
    errors: list[str] = []
    created: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def work(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = Client(url, key)
        count = requests // clients + (1 if index < requests % clients else 0)
        start.wait()
        for _ in range(count):
            kind = rng.choice(kinds)
            began = time.perf_counter()
            try:
                problem = operation(kind, client, rng, created, run_id)
            except Exception as exc:  # a reset, a timeout, a broken body: all errors a user would see
                problem = f"{kind}: {type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                latencies.append(elapsed)
                by_operation.setdefault(kind, []).append(elapsed)
                if problem:
                    errors.append(problem)
        client.close()

    seconds = timed_together([threading.Thread(target=work, args=(i,), daemon=True) for i in range(clients)], start)
    errors.extend(verify_created(url, key, created))
    return LoadResult(clients, len(latencies), seconds, latencies, errors, by_operation)


def timed_together(threads: list[threading.Thread], start: threading.Barrier) -> float:
    """Starts the threads (each waits at ``start``, whose last party is the caller), lets them go at once
    and returns the seconds until the last one finished."""
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def verify_created(url: str, key: str, created: list[str]) -> list[str]:
    """Every create that answered 201 must be readable afterwards (no lost write)."""
    client = Client(url, key)
    missing = []
    for workflow_id in created:
        status, body = client.request("GET", f"/api/v1/playbooks/{workflow_id}")
        if status != 200 or body.get("workflow_id") != workflow_id:
            missing.append(f"created {workflow_id} is not readable ({status})")
    client.close()
    return missing


def default_key() -> str:
    if os.environ.get("KEY"):
        return os.environ["KEY"]
    path = PROJECT_DIR / ".var" / "dev-api-key"
    if path.exists():
        return path.read_text().strip()
    raise SystemExit("no API key: pass --key, set KEY, or start `make run` once (it keeps .var/dev-api-key)")


def report(result: LoadResult, out: Callable[[str], None] = print) -> None:
    for kind, values in sorted(result.by_operation.items()):
        out(f"  {kind:7} n={len(values):6} p50 {statistics.median(values):7.1f} ms  max {max(values):7.1f} ms")
    for problem in sorted(set(result.errors))[:10]:
        out(f"  error: {problem} (x{result.errors.count(problem)})")
    out(result.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"operation=weight,... (default {DEFAULT_MIX})")
    parser.add_argument("--spawn", action="store_true", help="start a server of its own (own embedded database)")
    args = parser.parse_args()
    if args.spawn:
        env = {"POWERTOOLS_METRICS_DISABLED": "true", "LOG_LEVEL": "WARNING"}
        with CatalogProcess(env=env) as server:
            report(run_load(server.url, server.key, args.clients, args.requests, args.mix))
    else:
        report(run_load(args.url, args.key or default_key(), args.clients, args.requests, args.mix))


if __name__ == "__main__":
    main()
