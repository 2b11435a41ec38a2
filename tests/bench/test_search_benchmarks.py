"""The search benchmarks cannot rot: bench/search_quality.py and bench/confidence_fit.py run end to end
(their own embedded PostgreSQL, as `make bench` runs them) on a tiny slice of bench/data/search, and
bench/search_latency.py on a tiny synthetic catalog; on the full development data the figures
bench/README.md reports hold (the grouped cross-validated ones of `confident` included) and the
constants shipped in chalicelib/domain/confidence.py are what the fit gives.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.container import services
from chalicelib.domain import confidence
from tests.support.database import empty_catalog

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR / "bench"))

import confidence_fit  # noqa: E402  (bench/ holds scripts, not a package)
import search_quality  # noqa: E402

DATA = search_quality.DATA_DIR
CORPUS = search_quality.read_jsonl(str(DATA / "corpus.jsonl"))
QUERIES = search_quality.read_jsonl(str(DATA / "queries-dev.jsonl"))
NO_RUNBOOK = search_quality.read_jsonl(str(DATA / "queries-no-runbook-dev.jsonl"))


def tiny_data(folder: Path) -> list[str]:
    """Six runbooks (the answers to four alerts, and two more), those alerts' queries and the queries of
    two no-runbook alerts, as files; returns the command-line options naming them."""
    alerts = sorted({q["alert"] for q in QUERIES})[:4]
    queries = [q for q in QUERIES if q["alert"] in alerts]
    wanted = {r for q in queries for r in q["relevant"]}
    runbooks = [doc for doc in CORPUS if doc["id"] in wanted] + [doc for doc in CORPUS if doc["id"] not in wanted][:2]
    no_runbook = [q for q in NO_RUNBOOK if q["alert"] in sorted({q["alert"] for q in NO_RUNBOOK})[:2]]
    options = []
    for option, rows in (("--corpus", runbooks), ("--queries", queries), ("--no-runbook", no_runbook)):
        path = folder / f"{option.strip('-')}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        options += [option, str(path)]
    return options


def run(script: str, options: list[str]) -> list[str]:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)  # the benchmark starts its own embedded server
    done = subprocess.run([sys.executable, str(PROJECT_DIR / "bench" / script), *options], cwd=PROJECT_DIR,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


def test_search_quality_runs_end_to_end(tmp_path: Path) -> None:
    lines = run("search_quality.py", tiny_data(tmp_path))
    assert re.fullmatch(r"precision (\d\.\d{3}|nan) coverage \d\.\d{3}", lines[-2]), lines
    assert re.fullmatch(r"R@1 \d\.\d{3} R@5 \d\.\d{3} MRR \d\.\d{3}", lines[-1]), lines


def test_search_latency_runs_end_to_end() -> None:
    lines = run("search_latency.py", ["--versions", "300", "--queries", "60"])
    assert re.fullmatch(r"p50 \d+\.\d\d ms p95 \d+\.\d\d ms p99 \d+\.\d\d ms floor-p99 \d+\.\d\d ms ratio \d+\.\d\d",
                        lines[-1]), lines


def test_confidence_fit_runs_end_to_end(tmp_path: Path) -> None:
    lines = run("confidence_fit.py", tiny_data(tmp_path))
    assert any(re.fullmatch(r"INTERCEPT = -?\d+\.\d{6}", line) for line in lines), lines
    number = r"(\d\.\d{3}|nan)"
    assert re.fullmatch(rf"precision {number} coverage {number} cv-precision {number} cv-coverage {number}",
                        lines[-1]), lines


@pytest.fixture(scope="module")
def dev_catalog(database_url: str) -> Iterator[search_quality.Api]:
    """The whole corpus, loaded through the API into the test database (as the benchmark loads it)."""
    empty_catalog(services().db)
    services().search.clear_query_cache()
    api = search_quality.Api()
    search_quality.load_corpus(api, {doc["id"]: doc for doc in CORPUS})
    yield api
    empty_catalog(services().db)


def test_the_reported_development_figures_hold(dev_catalog: search_quality.Api) -> None:
    """bench/README.md: R@1/R@5/MRR must not drop; `confident` meets its targets on the development data."""
    corpus: dict[str, dict[str, Any]] = {doc["id"]: doc for doc in CORPUS}
    evaluation = search_quality.evaluate(dev_catalog, QUERIES, corpus, [], NO_RUNBOOK)
    reciprocal = evaluation.ranks["all"]
    r1, r5, mrr = (round(x / len(reciprocal), 3) for x in (sum(r == 1.0 for r in reciprocal),
                                                           sum(r >= 0.2 for r in reciprocal), sum(reciprocal)))
    assert r1 >= 0.868 and r5 >= 0.987 and mrr >= 0.911, (r1, r5, mrr)
    assert evaluation.precision() >= 0.90
    assert evaluation.coverage() >= 0.75


@pytest.fixture(scope="module")
def dev_samples(dev_catalog: search_quality.Api) -> list[confidence_fit.Sample]:
    """Every development query's top result, its signals and whether it is right (what the fit reads)."""
    return confidence_fit.collect([*QUERIES, *NO_RUNBOOK])


def test_the_shipped_constants_are_what_the_fit_gives(dev_samples: list[confidence_fit.Sample]) -> None:
    """After a change to ranking or to the signals, re-fit: `.venv/bin/python bench/confidence_fit.py`
    prints the constants for chalicelib/domain/confidence.py (bench/README.md, "Confidence")."""
    model = confidence_fit.fit(dev_samples)
    shipped = (confidence.INTERCEPT, *confidence.WEIGHTS, confidence.THRESHOLD)
    assert (model.intercept, *model.weights, model.threshold) == pytest.approx(shipped, abs=2e-6)


def test_confident_meets_its_targets_for_alerts_the_fit_has_not_seen(
        dev_samples: list[confidence_fit.Sample]) -> None:
    """The honest estimate (bench/README.md): each alert decided by a model and cut fitted without it."""
    cv = confidence_fit.grouped_cross_validation(dev_samples)[0]
    assert cv.precision >= 0.90 and cv.coverage >= 0.75, cv
