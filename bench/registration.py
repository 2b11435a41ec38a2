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
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_quality import PROJECT_DIR, start_database

sys.path.insert(0, str(PROJECT_DIR))

from tests.support import oci
from tests.support.registry import LocalRegistry, listed_for_the_process, start_registry

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=int, default=30, help="registrations timed one at a time")
    parser.add_argument("--throughput", type=int, default=40, help="registrations submitted at once")
    parser.add_argument("--workers", type=int, default=2, help="threads of the in-process dispatcher")
    args = parser.parse_args()

    start_database("default")  # stopped and deleted when the process exits
    from app import app
    from chalicelib.adapters.dispatch import InlineDispatcher
    from chalicelib.container import services
    from tests.support.api import ApiClient

    catalog = services()
    catalog.__dict__["dispatcher"] = InlineDispatcher(catalog.registration_job, workers=args.workers)
    api = ApiClient(app, catalog.api_keys)
    dispatcher = catalog.dispatcher
    # The loopback registry is reached only because it is listed, as `make run` users list theirs.
    with start_registry() as registry, listed_for_the_process(registry.host):
        timed = push_images(registry, "latency", WARMUP + args.latency)
        burst = push_images(registry, "burst", args.throughput)

        def check(registration_id: str) -> None:
            result = api.get(f"/api/v1/registrations/{registration_id}", scopes=("catalog:read",))
            if result.json["status"] != "succeeded":
                raise SystemExit(f"registration did not succeed: {result.json}")

        latencies = []
        for index, (workflow_id, image) in enumerate(timed):
            started = time.perf_counter()
            accepted = api.post("/api/v1/registrations", event(workflow_id, image), scopes=("registrations:write",))
            dispatcher.wait_idle()  # type: ignore[attr-defined]
            elapsed = (time.perf_counter() - started) * 1000
            check(accepted.json["registration_id"])
            if index >= WARMUP:
                latencies.append(elapsed)

        started = time.perf_counter()
        ids = [
            api.post("/api/v1/registrations", event(w, i), scopes=("registrations:write",)).json["registration_id"]
            for w, i in burst
        ]
        dispatcher.wait_idle(timeout=300)  # type: ignore[attr-defined]
        seconds = time.perf_counter() - started
        for registration_id in ids:
            check(registration_id)
    dispatcher.close()  # type: ignore[attr-defined]

    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) >= 2 else latencies[0]
    print(f"latency over {len(latencies)} registrations: min {min(latencies):.1f} ms, max {max(latencies):.1f} ms")
    print(f"throughput: {len(burst)} registrations in {seconds:.2f} s with {args.workers} dispatcher threads")
    print(f"p50 {p50:.1f} ms p95 {p95:.1f} ms throughput {len(burst) / seconds:.1f} registrations/s")


if __name__ == "__main__":
    main()
