"""Fits the `confident` model of search (chalicelib/domain/confidence.py) and estimates how it generalises.

Pure Python (no numpy or ML library). Loads the corpus into a fresh embedded PostgreSQL through the
real API, runs every development query (answerable and no-runbook) through SearchService.search, and
records the signals of the top result and whether that result is relevant. Then
1. fits a logistic regression (L2-regularised on standardised signals, Newton's method) of "the top
   result is relevant" on the signals, and picks THRESHOLD: the probability cut that answers the
   most queries confidently while precision stays >= PRECISION_GOAL, judged on out-of-fold
   probabilities (each alert's queries scored by the model fitted without that alert), because a
   cut chosen on the fitted data itself is optimistic: the model has seen those alerts;
2. estimates generalisation to other alerts with grouped cross-validation: leave one alert name out
   (all its queries), fit and pick the cut on the rest exactly as in 1 (so the cut is chosen by an
   inner leave-one-alert-out on the rest), decide for the left-out alert; pooled figures;
3. says how stable those figures are: repeated grouped 10-fold cross-validation (alerts shuffled
   into 10 folds, REPEATS times, fixed seeds), and a bootstrap over alerts of the leave-one-out
   decisions (90% interval);
4. prints the constants to paste into chalicelib/domain/confidence.py, precision and coverage
   in-sample and cross-validated, and AUROC of the model's probability against the plain top score;
5. stress (not used for fitting): disables each answerable query's runbook(s) through the API and asks
   again, so nothing listed as relevant can be found, and counts how often the fitted model is still
   confident (mostly with a sibling runbook, e.g. the client instead of the server certificate one).

    .venv/bin/python bench/confidence_fit.py [--corpus FILE] [--queries FILE] [--no-runbook FILE] \\
        [--provider default]

Precision = share of confident answers whose top result is relevant (a confident answer to a
no-runbook query is wrong); coverage = share of answerable queries answered confidently and right.
Last line: `precision P coverage C cv-precision P cv-coverage C`. bench/search_quality.py reproduces
the in-sample figures of the constants shipped through the API.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_quality import (
    DATA_DIR,
    MAX_RANK,
    PROJECT_DIR,
    Api,
    load_corpus,
    read_jsonl,
    start_database,
    workflow_id_for,
)

sys.path.insert(0, str(PROJECT_DIR))

from chalicelib.domain.confidence import Signals

L2 = 1.0  # ridge penalty on standardised coefficients: keeps 97 queries from fitting noise
# The target itself: the cut is judged on out-of-fold probabilities, which already behave like alerts the
# model has not seen (a cut judged on the fitted data needed a margin above the target instead).
PRECISION_GOAL = 0.90
REPEATS, FOLDS, BOOTSTRAP = 10, 10, 2000  # stability: repeated grouped 10-fold CV, bootstrap over alerts


@dataclass(frozen=True)
class Sample:
    """One query's outcome: the top result's signals, whether it is relevant, the query's group."""

    qid: str
    alert: str
    answerable: bool
    top_right: bool
    top_score: float
    features: tuple[float, ...]


@dataclass(frozen=True)
class Model:
    intercept: float
    weights: tuple[float, ...]
    threshold: float

    def probability(self, features: Sequence[float]) -> float:
        return _sigmoid(self.intercept + sum(w * x for w, x in zip(self.weights, features, strict=True)))


@dataclass(frozen=True)
class Figures:
    precision: float
    coverage: float
    confident: int


def collect(queries: list[dict[str, Any]]) -> list[Sample]:
    """Runs each query through the search service (top_k as bench/search_quality.py) and records its sample."""
    from chalicelib.container import services
    from chalicelib.domain.search import SearchRequest

    samples = []
    for query in queries:
        ranking = services().search.search(SearchRequest(query=query["query"], top_k=MAX_RANK))
        if ranking.signals is None:
            raise SystemExit(f"no candidates for {query['qid']}: is the corpus loaded?")
        relevant = {workflow_id_for(r) for r in query["relevant"]}
        top = ranking.hits[0]
        samples.append(Sample(query["qid"], query["alert"], bool(relevant), top.workflow_id in relevant,
                              top.score, ranking.signals.features()))
    return samples


def leave_runbook_out(api: Api, queries: list[dict[str, Any]], model: Model) -> tuple[int, int]:
    """(confident answers, queries) with each query's relevant runbooks disabled while it is asked."""
    from chalicelib.container import services
    from chalicelib.domain.search import SearchRequest

    def set_enabled(workflow_ids: list[str], enabled: bool) -> None:
        for workflow_id in workflow_ids:
            status, body = api.patch(f"/api/v1/playbooks/{workflow_id}",
                                     {"enabled": enabled, "reason": "confidence stress test"})
            if status != 200:
                raise SystemExit(f"could not change {workflow_id}: {status} {body}")

    confident = 0
    for query in queries:
        relevant = [workflow_id_for(r) for r in query["relevant"]]
        set_enabled(relevant, False)
        ranking = services().search.search(SearchRequest(query=query["query"], top_k=MAX_RANK))
        set_enabled(relevant, True)
        if ranking.signals is not None and model.probability(ranking.signals.features()) >= model.threshold:
            confident += 1
    return confident, len(queries)


def fit_logistic(rows: Sequence[Sequence[float]], labels: Sequence[bool], l2: float = L2) -> tuple[float, ...]:
    """(intercept, *weights) of an L2-regularised logistic regression, in the original feature scale.

    Features are standardised for the fit (so one penalty suits all), the intercept is not penalised,
    and Newton's method converges in a few steps on problems this small.
    """
    if all(labels) or not any(labels):
        raise SystemExit("fitting needs queries whose top result is right and queries whose top result is not")
    k = len(rows[0])
    means = [sum(r[j] for r in rows) / len(rows) for j in range(k)]
    scales = [math.sqrt(sum((r[j] - means[j]) ** 2 for r in rows) / len(rows)) or 1.0 for j in range(k)]
    z = [[1.0, *((r[j] - means[j]) / scales[j] for j in range(k))] for r in rows]
    beta = [0.0] * (k + 1)
    for _ in range(100):
        gradient = [l2 * b if i else 0.0 for i, b in enumerate(beta)]
        hessian = [[l2 if i == j and i else 0.0 for j in range(k + 1)] for i in range(k + 1)]
        for x, y in zip(z, labels, strict=True):
            p = _sigmoid(sum(b * v for b, v in zip(beta, x, strict=True)))
            for i in range(k + 1):
                gradient[i] += (p - y) * x[i]
                for j in range(k + 1):
                    hessian[i][j] += p * (1 - p) * x[i] * x[j]
        step = _solve(hessian, gradient)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-12:
            break
    weights = [beta[j + 1] / scales[j] for j in range(k)]
    return (beta[0] - sum(w * m for w, m in zip(weights, means, strict=True)), *weights)


def choose_threshold(probabilities: Sequence[float], labels: Sequence[bool], goal: float) -> float:
    """The lowest cut (most confident answers) at which precision over these samples is >= goal,
    halfway to the next lower probability so a tiny shift in a score does not flip a decision."""
    distinct = sorted(set(probabilities), reverse=True)
    chosen = None
    for index, cut in enumerate(distinct):
        answered = [y for p, y in zip(probabilities, labels, strict=True) if p >= cut]
        if sum(answered) / len(answered) >= goal:
            chosen = index
    if chosen is None:
        return 1.0  # never confident: nothing reaches the goal
    lower = distinct[chosen + 1] if chosen + 1 < len(distinct) else 0.0
    return (distinct[chosen] + lower) / 2


def fit_weights(samples: Sequence[Sample]) -> Model:
    """The logistic model without a cut (threshold 1: never confident)."""
    intercept, *weights = fit_logistic([s.features for s in samples], [s.top_right for s in samples])
    return Model(intercept, tuple(weights), 1.0)


def out_of_fold(samples: Sequence[Sample]) -> list[float]:
    """Each sample's probability under the model fitted without its alert (leave one alert out)."""
    probabilities = [0.0] * len(samples)
    for alert in sorted({s.alert for s in samples}):
        rest = [s for s in samples if s.alert != alert]
        outcomes = {s.top_right for s in rest}
        # Only in tiny data sets can the rest hold one outcome; a fit on one outcome predicts it.
        model = fit_weights(rest) if len(outcomes) == 2 else None
        for index, sample in enumerate(samples):
            if sample.alert == alert:
                probabilities[index] = model.probability(sample.features) if model else float(True in outcomes)
    return probabilities


def fit(samples: Sequence[Sample], goal: float = PRECISION_GOAL) -> Model:
    """The model fitted on all samples, with the cut that reaches ``goal`` on their out-of-fold probabilities."""
    model = fit_weights(samples)
    cut = choose_threshold(out_of_fold(samples), [s.top_right for s in samples], goal)
    return Model(model.intercept, model.weights, cut)


def figures(samples: Sequence[Sample], confident: Sequence[bool]) -> Figures:
    right = sum(1 for s, c in zip(samples, confident, strict=True) if c and s.top_right)
    answered = sum(confident)
    return Figures(right / answered if answered else float("nan"),
                   right / sum(s.answerable for s in samples), answered)


def grouped_cross_validation(samples: Sequence[Sample], folds: Sequence[Sequence[str]] | None = None,
                             goal: float = PRECISION_GOAL) -> tuple[Figures, list[float], list[bool], list[float]]:
    """Each fold of alerts (default: one alert each) decided by the model and cut fitted without it:
    (pooled figures, out-of-fold probabilities and decisions in sample order, each fold's cut)."""
    confident, probabilities, cuts = [False] * len(samples), [0.0] * len(samples), []
    for fold in folds or [[alert] for alert in sorted({s.alert for s in samples})]:
        if not fold:
            continue  # more folds than alerts (tiny data sets)
        model = fit([s for s in samples if s.alert not in fold], goal)
        cuts.append(model.threshold)
        for index, sample in enumerate(samples):
            if sample.alert in fold:
                probabilities[index] = model.probability(sample.features)
                confident[index] = probabilities[index] >= model.threshold
    return figures(samples, confident), probabilities, confident, cuts


def repeated_grouped_cv(samples: Sequence[Sample], repeats: int = REPEATS, k: int = FOLDS) -> list[Figures]:
    """Grouped k-fold cross-validation, alerts shuffled into k folds anew each time (seeds 0..repeats-1)."""
    alerts = sorted({s.alert for s in samples})
    runs = []
    for seed in range(repeats):
        shuffled = alerts[:]
        random.Random(seed).shuffle(shuffled)
        runs.append(grouped_cross_validation(samples, [shuffled[i::k] for i in range(k)])[0])
    return runs


def bootstrap_interval(samples: Sequence[Sample], confident: Sequence[bool], rounds: int = BOOTSTRAP,
                       level: float = 0.90) -> tuple[tuple[float, float], tuple[float, float]]:
    """``level`` intervals of precision and coverage over resamples of the alerts (with replacement), holding
    the given decisions: how much the figures owe to which alerts happen to be in the data."""
    by_alert: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        by_alert.setdefault(sample.alert, []).append(index)
    alerts, rng = sorted(by_alert), random.Random(0)
    precisions, coverages = [], []
    for _ in range(rounds):
        picked = [i for alert in rng.choices(alerts, k=len(alerts)) for i in by_alert[alert]]
        right = sum(1 for i in picked if confident[i] and samples[i].top_right)
        answered, answerable = sum(1 for i in picked if confident[i]), sum(1 for i in picked if samples[i].answerable)
        if answered and answerable:
            precisions.append(right / answered)
            coverages.append(right / answerable)

    def interval(values: list[float]) -> tuple[float, float]:
        if not values:  # never confident (tiny data sets)
            return float("nan"), float("nan")
        ordered = sorted(values)
        tail = (1 - level) / 2
        return ordered[int(tail * (len(ordered) - 1))], ordered[int((1 - tail) * (len(ordered) - 1))]

    return interval(precisions), interval(coverages)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Probability that a positive sample outscores a negative one (ties count half)."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def report(samples: Sequence[Sample], model: Model, out: Callable[[str], None] = print) -> tuple[Figures, Figures]:
    """Prints the signals' and the model's figures and the constants; returns (in-sample, grouped CV)."""
    names = [f.name for f in fields(Signals)]
    right = [s.top_right for s in samples]
    answerable = [s.answerable for s in samples]
    probabilities = [model.probability(s.features) for s in samples]
    cv, cv_probabilities, cv_confident, cuts = grouped_cross_validation(samples)
    inside = figures(samples, [p >= model.threshold for p in probabilities])
    out(f"{len(samples)} queries ({sum(answerable)} answerable, {len(samples) - sum(answerable)} no-runbook), "
        f"{len({s.alert for s in samples})} alerts; top result right for {sum(right)}")
    for index, name in enumerate(names):
        out(f"  signal {name:<15} AUROC {auroc([s.features[index] for s in samples], right):.3f}")
    out(f"AUROC (top result right)         top score {auroc([s.top_score for s in samples], right):.3f}  "
        f"model in-sample {auroc(probabilities, right):.3f}  grouped CV {auroc(cv_probabilities, right):.3f}")
    out(f"AUROC (answerable vs no-runbook) top score {auroc([s.top_score for s in samples], answerable):.3f}  "
        f"model in-sample {auroc(probabilities, answerable):.3f}  grouped CV {auroc(cv_probabilities, answerable):.3f}")
    out("constants for chalicelib/domain/confidence.py:")
    out(f"INTERCEPT = {model.intercept:.6f}")
    out(f"WEIGHTS = ({', '.join(f'{w:.6f}' for w in model.weights)})  # {', '.join(names)}")
    out(f"THRESHOLD = {model.threshold:.6f}")
    out(f"in-sample:  precision {inside.precision:.3f} coverage {inside.coverage:.3f} ({inside.confident} confident)")
    out(f"grouped CV: precision {cv.precision:.3f} coverage {cv.coverage:.3f} ({cv.confident} confident; "
        f"cuts {min(cuts):.3f}-{max(cuts):.3f})")
    (p_low, p_high), (c_low, c_high) = bootstrap_interval(samples, cv_confident)
    out(f"  bootstrap over alerts (90%): precision {p_low:.3f}-{p_high:.3f} coverage {c_low:.3f}-{c_high:.3f}")
    runs = repeated_grouped_cv(samples)
    precisions, coverages = [r.precision for r in runs], [r.coverage for r in runs]
    out(f"  grouped {FOLDS}-fold CV x {len(runs)}: precision mean {statistics.mean(precisions):.3f} "
        f"(min {min(precisions):.3f} max {max(precisions):.3f}) coverage mean {statistics.mean(coverages):.3f} "
        f"(min {min(coverages):.3f} max {max(coverages):.3f})")
    return inside, cv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(DATA_DIR / "corpus.jsonl"))
    parser.add_argument("--queries", default=str(DATA_DIR / "queries-dev.jsonl"))
    parser.add_argument("--no-runbook", default=str(DATA_DIR / "queries-no-runbook-dev.jsonl"))
    parser.add_argument("--provider", default="default", choices=("default", "sentence-transformers", "bedrock"))
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    start_database(args.provider)
    api = Api()
    load_corpus(api, {doc["id"]: doc for doc in read_jsonl(args.corpus)})
    answerable = read_jsonl(args.queries)
    samples = collect([*answerable, *read_jsonl(args.no_runbook)])
    model = fit(samples)
    inside, cv = report(samples, model)
    confident, asked = leave_runbook_out(api, answerable, model)
    print(f"stress, relevant runbooks disabled: confident for {confident} of {asked} queries")
    print(f"precision {inside.precision:.3f} coverage {inside.coverage:.3f} "
          f"cv-precision {cv.precision:.3f} cv-coverage {cv.coverage:.3f}")


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the systems here are 4 x 4)."""
    n = len(vector)
    a = [[*row, v] for row, v in zip(matrix, vector, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col:
                factor = a[r][col] / a[col][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[i][n] / a[i][i] for i in range(n)]


if __name__ == "__main__":
    main()
