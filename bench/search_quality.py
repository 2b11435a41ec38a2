"""Search quality on real alert text: R@1, R@5 and MRR, overall and per query origin, and how well
`confident` tells a fitting top result from "nothing fits" (precision and coverage).

Loads the corpus (bench/data/search/README.md) as workflows through the real API (Chalice's test
client, real authorizer, real handlers) into a fresh embedded PostgreSQL, then sends every query to
POST /api/v1/playbooks/search. Free text only, unless --label-filter names labels whose value comes
from each query's relevant runbook (e.g. `component`; no-runbook queries are sent without filters).
The data files default to the copies in bench/data/search.

    .venv/bin/python bench/search_quality.py [--corpus FILE] [--queries FILE] [--no-runbook FILE] \\
        [--provider default] [--label-filter component]

Precision = share of `confident: true` answers whose top result is relevant (a confident answer to a
no-runbook query is wrong); coverage = share of answerable queries answered confidently and right.
Last two lines: `precision P coverage C` (when no-runbook queries are given), then `R@1 x R@5 y MRR z`.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_DIR / "bench" / "data" / "search"
sys.path.insert(0, str(PROJECT_DIR))

MAX_RANK = 100  # the API's top_k limit: MRR counts hits down to rank 100


def workflow_id_for(corpus_id: str) -> str:
    """`kubernetes/KubePodCrashLooping` -> `kubernetes-kube-pod-crash-looping` (DNS-1123, <= 63 chars)."""
    kebab = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", corpus_id).lower()
    kebab = re.sub(r"[^a-z0-9]+", "-", kebab).strip("-")
    if len(kebab) > 63:
        kebab = kebab[:54].rstrip("-") + "-" + hashlib.sha256(corpus_id.encode()).hexdigest()[:8]
    return kebab


def workflow_body(doc: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(doc["id"].encode()).hexdigest()
    return {
        "workflow_id": workflow_id_for(doc["id"]),
        "version": "1.0.0",
        "title": doc["title"],
        "description": doc["text"] or doc["title"],
        "labels": {"component": doc["component"], "signal_type": "*", "severity": "*", "environment": "*"},
        "container_image": f"ghcr.io/runbooks/{workflow_id_for(doc['id'])}:1.0.0@sha256:{digest}",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    }


def read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class Api:
    """JSON calls through Chalice's test client with one admin key."""

    def __init__(self) -> None:
        from chalice.test import Client

        from app import app
        from chalicelib.container import services

        self._client = Client(app, stage_name="local", project_dir=str(PROJECT_DIR))
        _, token = services().api_keys.create("search-quality bench", ["admin", "catalog:read", "catalog:write"])
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = self._client.http.post(path, headers=self._headers, body=json.dumps(body).encode())
        return response.status_code, json.loads(response.body)

    def patch(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = self._client.http.patch(path, headers=self._headers, body=json.dumps(body).encode())
        return response.status_code, json.loads(response.body)


def start_database(provider: str) -> None:
    """A fresh embedded server (in a temporary directory, stopped and deleted when the process exits)
    and database, migrated. The process's settings point at it."""
    import psycopg2

    from chalicelib.config import settings
    from chalicelib.container import reset_services, services
    from chalicelib.stores.embedded import start_embedded
    from chalicelib.stores.migrations import apply_migrations

    folder = Path(tempfile.mkdtemp(prefix="search-bench-"))
    # Registered before the server's own exit handler, so it runs after it: the server deletes its data, this
    # the folder around it (nothing is left in the temp folder).
    atexit.register(shutil.rmtree, folder, True)
    uri = start_embedded(folder / "pgdata", delete_on_exit=True)
    admin = psycopg2.connect(uri)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("CREATE DATABASE search_quality")
    admin.close()
    os.environ["DATABASE_URL"] = uri.replace("/postgres?", "/search_quality?")
    os.environ["EMBEDDING_PROVIDER"] = provider
    settings.cache_clear()
    reset_services()
    apply_migrations(services().db)
    services().search.ensure_ready()


@dataclass
class Evaluation:
    """Reciprocal ranks of the first relevant result per query origin ("all" too; 0 when not in the top
    MAX_RANK) and the counts behind precision and coverage of `confident`."""

    ranks: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    answerable: int = 0
    confident_right: int = 0  # confident, and the top result is relevant
    confident_wrong: int = 0  # confident, and the top result is not (every confident no-runbook answer)

    def precision(self) -> float:
        answered = self.confident_right + self.confident_wrong
        return self.confident_right / answered if answered else float("nan")

    def coverage(self) -> float:
        return self.confident_right / self.answerable if self.answerable else float("nan")


def load_corpus(api: Api, corpus: dict[str, dict[str, Any]]) -> None:
    for doc in corpus.values():
        status, body = api.post("/api/v1/playbooks", workflow_body(doc))
        if status not in (200, 201):
            raise SystemExit(f"loading {doc['id']} failed: {status} {body}")


def evaluate(api: Api, queries: list[dict[str, Any]], corpus: dict[str, dict[str, Any]],
             label_filter: list[str], no_runbook: list[dict[str, Any]] | None = None) -> Evaluation:
    """Sends every query (answerable ones, then those no runbook answers) and scores the answers."""
    evaluation = Evaluation()
    for query in [*queries, *(no_runbook or [])]:
        relevant = {workflow_id_for(r) for r in query["relevant"]}
        labels = {key: corpus[query["relevant"][0]][key] for key in label_filter} if relevant else {}
        status, body = api.post("/api/v1/playbooks/search",
                                {"query": query["query"], "labels": labels, "top_k": MAX_RANK})
        if status != 200:
            raise SystemExit(f"search failed for {query['qid']}: {status} {body}")
        top_right = bool(body["results"]) and body["results"][0]["workflow_id"] in relevant
        if body["confident"]:
            if top_right:
                evaluation.confident_right += 1
            else:
                evaluation.confident_wrong += 1
        if not relevant:
            continue
        evaluation.answerable += 1
        found = [r["rank"] for r in body["results"] if r["workflow_id"] in relevant]
        reciprocal = 1.0 / found[0] if found else 0.0
        evaluation.ranks["all"].append(reciprocal)
        evaluation.ranks[query["origin"]].append(reciprocal)
    return evaluation


def summary(values: list[float]) -> str:
    n = len(values)
    r1 = sum(v == 1.0 for v in values) / n
    r5 = sum(v >= 0.2 for v in values) / n
    return f"R@1 {r1:.3f} R@5 {r5:.3f} MRR {sum(values) / n:.3f}"


def confidence_summary(evaluation: Evaluation) -> str:
    return f"precision {evaluation.precision():.3f} coverage {evaluation.coverage():.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(DATA_DIR / "corpus.jsonl"))
    parser.add_argument("--queries", default=str(DATA_DIR / "queries-dev.jsonl"))
    parser.add_argument("--no-runbook", default=str(DATA_DIR / "queries-no-runbook-dev.jsonl"),
                        help="queries no runbook answers, for precision and coverage of `confident` ('' for none)")
    parser.add_argument("--provider", default="default", choices=("default", "sentence-transformers", "bedrock"))
    parser.add_argument("--label-filter", action="append", default=[],
                        help="label taken from each query's relevant runbook as a hard filter (repeatable)")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    corpus = {doc["id"]: doc for doc in read_jsonl(args.corpus)}
    queries = read_jsonl(args.queries)
    no_runbook = read_jsonl(args.no_runbook) if args.no_runbook else []
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no metric line per search
    start_database(args.provider)
    api = Api()
    started = time.perf_counter()
    load_corpus(api, corpus)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    evaluation = evaluate(api, queries, corpus, args.label_filter, no_runbook)
    searched = time.perf_counter() - started
    print(f"provider {args.provider}; {len(corpus)} workflows loaded in {loaded:.1f} s; "
          f"{len(queries)} queries and {len(no_runbook)} no-runbook queries in {searched:.1f} s; "
          f"label filters: {args.label_filter or 'none'}")
    ranks = evaluation.ranks
    for origin in sorted(k for k in ranks if k != "all"):
        print(f"  {origin:<22} n={len(ranks[origin]):<3} {summary(ranks[origin])}")
    if no_runbook:
        print(f"  confident: {evaluation.confident_right} right of {evaluation.answerable} answerable, "
              f"{evaluation.confident_wrong} wrong (no-runbook or wrong top result)")
        print(confidence_summary(evaluation))
    print(summary(ranks["all"]))


if __name__ == "__main__":
    main()
