"""Search latency on a synthetic catalog: the service in-process versus the bare SQL it issues.

Builds a catalog of --versions workflow versions (several per workflow; realistic label mixes:
specific and "*" values, lists, optional priority/business labels; some drafts, deprecated
versions and disabled workflows; a track record for most workflows, for one to three signals),
bulk-loaded with COPY into a fresh embedded PostgreSQL, then runs
--queries distinct incident queries with typical label filters. For each query it times
1. SearchService.search (query embedding included: the query cache is cleared first), and
2. the floor: the same SQL statements on a raw cursor in one transaction, nothing else,
interleaved so both see the same conditions.

    .venv/bin/python bench/search_latency.py --versions 100000

Last line: `p50 A ms p95 B ms p99 C ms floor-p99 D ms ratio E` (ratio = service p99 / floor p99).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_quality import PROJECT_DIR, start_database

sys.path.insert(0, str(PROJECT_DIR))

SIGNALS = ["OOMKilled", "CrashLoopBackOff", "ImagePullBackOff", "NodeNotReady", "DiskPressure", "MemoryPressure",
           "PIDPressure", "KubePodNotReady", "KubeDeploymentReplicasMismatch", "KubeJobFailed", "KubeHpaMaxedOut",
           "CPUThrottlingHigh", "KubePersistentVolumeFillingUp", "NodeFilesystemAlmostOutOfSpace",
           "TargetDown", "KubeAPIErrorBudgetBurn", "EtcdNoLeader", "EtcdHighFsyncDurations",
           "CertificateExpiring", "HighErrorRate", "HighLatency", "QueueBacklog", "ConnectionPoolExhausted",
           "DatabaseReplicationLag", "Evicted", "FailedScheduling", "NetworkPolicyDenied", "DNSFailures",
           "IngressErrors5xx", "NodeClockSkew", "KubeletDown", "ContainerRestarting"]
COMPONENTS = ["deployment", "pod", "node", "statefulset", "daemonset", "job", "cronjob", "service", "ingress",
              "persistentvolume", "namespace", "etcd", "apiserver", "kubelet", "database", "cache", "queue",
              "loadbalancer", "certificate", "dns"]
SEVERITIES = ["critical", "high", "medium", "low"]
ENVIRONMENTS = ["production", "staging", "development", "qa"]
CATEGORIES = ["payments", "checkout", "search", "identity", "analytics", "logistics", "billing", "messaging"]
ACTIONS = ["Restart", "Scale out", "Roll back", "Increase memory limit of", "Drain and cordon", "Clean up",
           "Rotate certificate of", "Fail over", "Reschedule", "Tune resource requests of", "Recreate",
           "Expand volume of", "Flush cache of", "Throttle traffic to"]
_WORD_BANK = ("pod container memory limit restart rollout deployment replica node disk filesystem space pressure "
         "eviction scheduling quota cpu throttling latency error rate budget certificate expiry renewal "
         "volume claim capacity network policy dns resolution ingress backend timeout queue backlog consumer "
         "lag database replication failover leader election etcd fsync apiserver kubelet heartbeat probe "
         "readiness liveness image pull registry credentials secret configmap reload crash loop backoff "
         "oomkilled killed exit code signal graceful shutdown drain cordon taint toleration affinity hpa "
         "autoscaler maxed out saturation connection pool exhausted retries circuit breaker")
WORDS = tuple(_WORD_BANK.split())


def rng_labels(rng: random.Random) -> dict[str, Any]:
    labels: dict[str, Any] = {
        "signal_type": "*" if rng.random() < 0.15 else rng.choice(SIGNALS),
        "severity": "*" if rng.random() < 0.2 else sorted(rng.sample(SEVERITIES, rng.randint(1, 3))),
        "environment": "*" if rng.random() < 0.3 else sorted(rng.sample(ENVIRONMENTS, rng.randint(1, 3))),
        "component": "*" if rng.random() < 0.1 else rng.choice(COMPONENTS),
    }
    if rng.random() < 0.5:
        labels["priority"] = rng.choice(["P1", "P2", "P3", "P4", "*"])
    if rng.random() < 0.3:
        labels["business_category"] = rng.choice(CATEGORIES)
    return labels


def text_for(rng: random.Random, labels: dict[str, Any]) -> tuple[str, str]:
    signal = labels["signal_type"] if labels["signal_type"] != "*" else rng.choice(SIGNALS)
    component = labels["component"] if labels["component"] != "*" else rng.choice(COMPONENTS)
    title = f"{rng.choice(ACTIONS)} {component} on {signal}"
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(8, 16))).capitalize() + "."
                 for _ in range(rng.randint(3, 6))]
    return title, f"Handles {signal} for a {component}. " + " ".join(sentences)


def build_catalog(n_versions: int, seed: int) -> tuple[list[tuple], list[tuple], dict[int, tuple], list[tuple]]:
    """(workflow rows, version rows, version id -> (title, description, labels), track record rows); ids are
    1..n."""
    from chalicelib.domain.content import content_hash
    from chalicelib.domain.versions import sort_key_parts

    rng = random.Random(seed)
    workflows, versions, texts, records = [], [], {}, []
    next_id, index = 1, 0
    while next_id <= n_versions:
        workflow_id = f"wf-{index:06d}"
        index += 1
        workflows.append((workflow_id, rng.random() >= 0.05))
        labels = rng_labels(rng)
        if rng.random() < 0.8:  # it ran: its counters (migration 017), for one to three signals
            for signal in rng.sample(SIGNALS, rng.randint(1, 3)):
                succeeded, failed, runs = rng.randint(0, 400), rng.randint(0, 40), rng.randint(0, 20)
                effective = rng.randint(0, succeeded)
                ineffective = rng.randint(0, succeeded - effective)
                records.append((workflow_id, signal.lower(), succeeded + failed + runs, succeeded, failed, effective,
                                ineffective, succeeded - effective - ineffective))
        title, description = text_for(rng, labels)
        count = min(rng.randint(1, 9), n_versions - next_id + 1)  # five versions per workflow on average
        for minor in range(count):
            version = f"1.{minor}.0"
            if rng.random() < 0.2:  # a later version reworded its description
                description = description + " " + " ".join(rng.choices(WORDS, k=6)) + "."
            last = minor == count - 1
            status = "draft" if last and rng.random() < 0.1 else ("deprecated" if rng.random() < 0.15 else "active")
            digest = hashlib.sha256(f"{workflow_id}{version}".encode()).hexdigest()
            content = {"title": title, "description": description, "labels": labels,
                       "container_image": f"ghcr.io/acme/{workflow_id}:{version}@sha256:{digest}",
                       "parameters": {"type": "object", "properties": {}, "additionalProperties": False}}
            major, minor_, patch, pre_key, build = sort_key_parts(version)
            versions.append((next_id, workflow_id, version, major, minor_, patch, pre_key, build, title, description,
                             json.dumps(labels), content["container_image"], json.dumps(content["parameters"]),
                             content_hash(content), status, "bench"))
            texts[next_id] = (title, description, labels)
            next_id += 1
    return workflows, versions, texts, records


def copy_rows(cur: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    import csv

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    # FORCE_NOT_NULL: an empty field is an empty string (e.g. no SemVer build metadata), not NULL.
    cur.copy_from_csv(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, "
                    f"FORCE_NOT_NULL ({', '.join(columns)}))", buffer)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Says what a long step is doing before it starts and how long it took (on stderr)."""
    print(f"  {label}...", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    yield
    print(f" {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def load(n_versions: int, seed: int) -> None:
    from chalicelib.container import services
    from chalicelib.domain.search import document_fields, embedding_text
    from chalicelib.stores import search_store

    started = time.perf_counter()
    print(f"generating a synthetic catalog of {n_versions} versions and embedding its texts", file=sys.stderr)
    workflows, versions, texts, records = build_catalog(n_versions, seed)
    search = services().search
    embedder = search.embedder  # the configured provider, exactly as the service uses it
    vectors: dict[str, list[float]] = {}
    staged = []
    tenth = max(1, len(texts) // 10)
    for done, (version_id, (title, description, labels)) in enumerate(texts.items(), start=1):
        text = embedding_text(title, description)
        if text not in vectors:
            vectors[text] = embedder.embed([text])[0]
        staged.append((version_id, *document_fields(title, description, labels), vectors[text]))
        if done % tenth == 0 or done == len(texts):
            print(f"  {done}/{len(texts)} versions embedded ({100 * done // len(texts)}%), "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"generated {len(workflows)} workflows / {len(versions)} versions and "
          f"{len(vectors)} distinct vectors in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    print("loading into PostgreSQL in one transaction", file=sys.stderr)
    with services().db.transaction() as cur:
        search_store.allow_long_statements(cur)
        with step(f"COPY {len(workflows)} workflows and {len(versions)} versions"):
            copy_rows(cur, "workflows", ("workflow_id", "enabled"), workflows)
            copy_rows(cur, "workflow_versions", (
                "id", "workflow_id", "version", "major", "minor", "patch", "prerelease_key", "build", "title",
                "description", "labels", "container_image", "parameters", "content_hash", "status", "created_by"),
                versions)
            cur.execute("SELECT setval('workflow_versions_id_seq', %s)", (len(versions),))
        with step(f"COPY {len(records)} track records"):
            copy_rows(cur, "track_records", ("workflow_id", "signal_type", "executions", "succeeded", "failed",
                                             "effective", "ineffective", "unknown"), records)
        search_store.drop_hnsw_index(cur)
        search_store.create_staging(cur)
        staging_started = time.perf_counter()
        for start in range(0, len(staged), tenth):  # in tenths (COPY appends), to show progress
            search_store.stage_documents(cur, staged[start:start + tenth])
            done = min(start + tenth, len(staged))
            print(f"  {done}/{len(staged)} search documents staged (COPY), "
                  f"{time.perf_counter() - staging_started:.0f} s", file=sys.stderr, flush=True)
        with step("full-text documents and BM25 statistics (one statement)"):
            search_store.load_staged_documents(cur)
        with step("HNSW index"):
            search_store.create_hnsw_index(cur, embedder.dimensions)
    with services().db.reading() as cur, step("VACUUM (ANALYZE)"):
        cur.execute("SET statement_timeout = 0")
        # As autovacuum would after a bulk load: statistics, visibility map and hint bits.
        cur.execute("VACUUM (ANALYZE)")
        cur.execute("RESET statement_timeout")
    print(f"loaded with COPY and indexed (HNSW) in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def make_queries(count: int, seed: int) -> list[Any]:
    from chalicelib.domain.search import SearchRequest

    rng = random.Random(seed + 1)
    queries: list[Any] = []
    seen: set[str] = set()
    while len(queries) < count:
        signal, component = rng.choice(SIGNALS), rng.choice(COMPONENTS)
        text = (f"{signal}: {rng.choice(['Pod', 'Container', 'Node', 'Service'])} "
                f"{rng.choice(['api', 'web', 'worker', 'db'])}-{rng.randint(1, 999)} {component} "
                + " ".join(rng.choices(WORDS, k=rng.randint(5, 15))))
        if text in seen:
            continue
        seen.add(text)
        shape = rng.random()
        labels: dict[str, str] = {}
        if shape < 0.5:  # the agent passes the incident's required labels
            labels = {"signal_type": signal, "severity": rng.choice(SEVERITIES),
                      "environment": rng.choice(ENVIRONMENTS), "component": component}
        elif shape < 0.75:
            labels = {"signal_type": signal}
        if rng.random() < 0.3:
            labels["business_category"] = rng.choice(CATEGORIES)
        queries.append(SearchRequest(query=text, labels=labels, top_k=10))
    return queries


def floor_once(db: Any, request: Any, vector: list[float] | None) -> float:
    """The statements SearchService.search sends, in one transaction and nothing else, timed (commit included,
    as the service's transaction commits too)."""
    from chalicelib.domain.confidence import plain_words
    from chalicelib.domain.search import split_camel_case
    from chalicelib.services.search import MIN_POOL, POOL_FACTOR
    from chalicelib.stores import effectiveness_store, search_store

    pool = max(MIN_POOL, POOL_FACTOR * request.top_k)
    sql, params = search_store.candidates_sql(split_camel_case(request.query), vector, request.constraining_labels,
                                              pool)
    with db.transaction() as cur:
        started = time.perf_counter()
        cur.execute(sql, params)
        rows = cur.fetchall()
        elapsed = time.perf_counter() - started
        # The service reads the top candidate's confidence signals, the top_k winners' rows and their track
        # records; the floor does as much.
        best = sorted(rows, key=lambda r: (-(r["semantic"] + r["text"]), r["workflow_id"]))[: request.top_k]
        started = time.perf_counter()
        if best:
            text = split_camel_case(request.query)
            search_store.confidence_signals(cur, best[0]["version_id"], text, plain_words(text))
        search_store.versions_by_id(cur, [r["version_id"] for r in best])
        effectiveness_store.track_records(cur, [r["workflow_id"] for r in best], request.labels.get("signal_type"))
    elapsed += time.perf_counter() - started  # the commit included, as for the service
    return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # one INFO line per search would be measured too
    # Metric lines (embedded metric format) go to stdout in Lambda; here they would flood the terminal.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    start_database(os.environ.get("EMBEDDING_PROVIDER", "default"))
    from chalicelib.container import services

    load(args.versions, args.seed)
    search = services().search
    queries = make_queries(args.queries, args.seed)
    for request in queries[:50]:  # warm the caches of both paths
        search.search(request)
        floor_once(services().db, request, search.embedder.embed([request.query])[0])
    service_times, floor_times, results = [], [], 0
    for request in queries:
        search.clear_query_cache()
        started = time.perf_counter()
        results += len(search.search(request).hits)
        service_times.append(time.perf_counter() - started)
        floor_times.append(floor_once(services().db, request, search.embedder.embed([request.query])[0]))
    p50, p95, p99 = (percentile(service_times, q) for q in (50, 95, 99))
    floor50, floor99 = percentile(floor_times, 50), percentile(floor_times, 99)
    print(f"{args.versions} versions, {len(queries)} queries ({results / len(queries):.1f} results each); "
          f"mean {statistics.mean(service_times) * 1000:.2f} ms; floor p50 {floor50:.2f} ms")
    print(f"p50 {p50:.2f} ms p95 {p95:.2f} ms p99 {p99:.2f} ms floor-p99 {floor99:.2f} ms ratio {p99 / floor99:.2f}")


if __name__ == "__main__":
    main()
