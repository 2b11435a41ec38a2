"""Registration latency and throughput: event -> job -> registry -> catalog, all real, on loopback.

Starts a fresh embedded PostgreSQL and a docker-registry on loopback, pushes small workflow images
(two gzip layers, /playbook-schema.json in the top one) built in Python, then
1. latency: for each of --latency images, POST /api/v1/registrations (Chalice test client, API key
   auth included) and wait until the in-process dispatcher's job has finished; each registration
   is checked to have succeeded. Reported as p50/p95 of event -> succeeded (target p50 <= 150 ms).
2. throughput: POST --throughput events at once and wait for every job (in-process dispatcher,
   --workers threads); reported as registrations per second.

    .venv/bin/python bench/registration.py --latency 50 --throughput 60

Last line: `p50 A ms p95 B ms throughput C registrations/s`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_quality import PROJECT_DIR, start_database

sys.path.insert(0, str(PROJECT_DIR))

from devtools import oci
from devtools.registry import LocalRegistry, start_registry

WARMUP = 3


def push_images(registry: LocalRegistry, prefix: str, count: int) -> list[tuple[str, str]]:
    """(workflow id, image reference) for ``count`` distinct small images."""
    pushed = []
    for index in range(count):
        workflow_id = f"{prefix}-{index}"
        base = oci.layer({"bin/remediate.sh": f"#!/bin/sh\necho {workflow_id}\n".encode()})
        image = oci.image(base, oci.schema_layer(oci.playbook_schema(workflow_id=workflow_id)))
        registry.pusher.push_image(f"bench/{workflow_id}", "1.0.0", image)
        pushed.append((workflow_id, registry.reference(f"bench/{workflow_id}", "1.0.0")))
    return pushed


def event(workflow_id: str, image: str) -> dict:
    return {
        "event": "ADDED",
        "object": {
            "apiVersion": "kubernaut.ai/v1alpha1",
            "kind": "RemediationWorkflow",
            "metadata": {"name": workflow_id, "namespace": "bench", "uid": str(uuid.uuid4()), "generation": 1},
            "spec": {"version": "1.0.0", "image": image,
                     "labels": {"signal_type": "OOMKilled", "severity": "critical", "environment": "*",
                                "component": "deployment"}},
        },
    }  # fmt: skip


class Api:
    """JSON calls through Chalice's test client (API Gateway emulation, real authorizer) with one key."""

    def __init__(self, token: str) -> None:
        from chalice.test import Client

        from app import app

        self._client = Client(app, stage_name="local", project_dir=str(PROJECT_DIR))
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        response = self._client.http.request(method, path, headers=self._headers, body=data)
        if response.status_code >= 300:
            raise SystemExit(f"{method} {path} answered {response.status_code}: {response.body[:500]!r}")
        return json.loads(response.body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=int, default=30, help="registrations timed one at a time")
    parser.add_argument("--throughput", type=int, default=40, help="registrations submitted at once")
    parser.add_argument("--workers", type=int, default=2, help="threads of the in-process dispatcher")
    args = parser.parse_args()
    if args.latency < 1 or args.throughput < 1:
        parser.error("--latency and --throughput must be at least 1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # one INFO line per request and job would be measured too
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no metric line per registration

    # The registry runs for the whole run; the embedded database is deleted when the process exits.
    with start_registry() as registry:
        # Loopback is reached only because it is listed, as `make run` users list a local registry.
        os.environ["INSECURE_REGISTRIES"] = registry.host
        start_database("default")  # the settings and services are rebuilt from the environment above
        from chalicelib.adapters.dispatch import InlineDispatcher
        from chalicelib.container import services

        catalog = services()
        dispatcher = InlineDispatcher(catalog.registration_job, workers=args.workers)
        catalog.__dict__["dispatcher"] = dispatcher  # so the endpoint queues onto the one we wait for
        _, token = catalog.api_keys.create("registration bench", ["registrations:write", "catalog:read"])
        api = Api(token)
        timed = push_images(registry, "latency", WARMUP + args.latency)
        burst = push_images(registry, "burst", args.throughput)

        def check(registration_id: str) -> None:
            result = api.call("GET", f"/api/v1/registrations/{registration_id}")
            if result["status"] != "succeeded":
                raise SystemExit(f"registration did not succeed: {result}")

        latencies = []
        for index, (workflow_id, image) in enumerate(timed):
            started = time.perf_counter()
            accepted = api.call("POST", "/api/v1/registrations", event(workflow_id, image))
            dispatcher.wait_idle()
            elapsed = (time.perf_counter() - started) * 1000
            check(accepted["registration_id"])
            if index >= WARMUP:
                latencies.append(elapsed)

        started = time.perf_counter()
        ids = [api.call("POST", "/api/v1/registrations", event(w, i))["registration_id"] for w, i in burst]
        dispatcher.wait_idle(timeout=300)
        seconds = time.perf_counter() - started
        for registration_id in ids:
            check(registration_id)
        dispatcher.close()

    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) >= 2 else latencies[0]
    print(f"latency over {len(latencies)} registrations: min {min(latencies):.1f} ms, max {max(latencies):.1f} ms")
    print(f"throughput: {len(burst)} registrations in {seconds:.2f} s with {args.workers} dispatcher threads")
    print(f"p50 {p50:.1f} ms p95 {p95:.1f} ms throughput {len(burst) / seconds:.1f} registrations/s")


if __name__ == "__main__":
    main()
