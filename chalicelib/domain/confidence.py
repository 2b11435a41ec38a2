"""Whether the top search result really fits the incident: `confident` in search responses.

Search always ranks something, so an agent needs to tell "this fits" from "the closest of nothing".
The top score alone does that poorly (its scale moves with the query's length and wording), so the
decision combines three signals of the top result, each in [0, 1], none tied to the embedding
provider's similarity scale:

- agreement: 1 when the semantic ranking and the full-text ranking both put the top result first
  (semantic among all candidates, text among the nearest ``agreement_window``, the pool every search
  considers, so the signal does not change with top_k); two views of the text agreeing is evidence,
  a split vote is not. A composite workflow and the workflows its steps run are one family, not rivals:
  a composite that raises a memory limit and then restarts competes with its own "raise the memory
  limit" step on the same words, and which of the two a ranking puts first says nothing about whether
  the top result fits. So the top result's family (its steps, or the composites that run it) is left
  out of the vote;
- title_coverage: how much of the top workflow's title (IDF-weighted) the query mentions; an alert
  name in the query matches its workflow's title fully;
- query_coverage: how much of what the incident says (IDF-weighted) the top workflow's text covers.
  Standalone words count even when no workflow knows them (an incident about "inodes" or "leader
  changes" is not fixed by a runbook that never says so, and a topic the catalog has never heard of
  is exactly the case to catch), instance names and measured values do not (plain_words).

A logistic regression over these, fitted offline on the development queries of bench/data/search
(bench/confidence_fit.py prints the constants below; method and figures in bench/README.md,
"Confidence"), gives the probability that the top result is right; `confident` is that probability
at or above THRESHOLD, the cut at which precision reached the target for alerts the model had not
seen (judged on probabilities from fits that left each alert out). The store computes the raw
signals (chalicelib/stores/search_store.py); this module is pure.
Re-fit after any change to ranking or to these signals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from typing import Any

# Output of bench/confidence_fit.py on bench/data/search (default embedding provider).
INTERCEPT = -4.386316
WEIGHTS = (2.079590, 3.177898, 2.917725)  # agreement, title_coverage, query_coverage
THRESHOLD = 0.636283


@dataclass(frozen=True)
class Signals:
    """What the decision sees of the top result; field order is the order of WEIGHTS."""

    agreement: float
    title_coverage: float
    query_coverage: float

    def features(self) -> tuple[float, ...]:
        return astuple(self)


def signals(ranked: Sequence[Mapping[str, Any]], agreement_window: int, title_coverage: float,
            query_coverage: float, family: frozenset[str] = frozenset()) -> Signals | None:
    """Signals of ``ranked[0]`` among the ranked candidates (best first), or None without candidates.

    Each candidate has ``semantic`` and ``text`` (the store's raw signals); ``title_coverage`` and
    ``query_coverage`` are the top candidate's (search_store.confidence_signals). A ranking where every candidate
    scores 0 puts nobody first, so agreement needs the top result's semantic and text scores above 0.
    ``family``: workflow ids of the top result's composite family (family_of), left out of the vote.
    """
    if not ranked:
        return None
    top = ranked[0]
    ranked = [row for row in ranked if row is top or row.get("workflow_id") not in family]
    nearest = sorted(ranked, key=lambda row: -row["semantic"])[:agreement_window]
    semantic_first = top["semantic"] > 0 and top["semantic"] >= max(row["semantic"] for row in ranked)
    text_first = any(row is top for row in nearest) and top["text"] > 0 and \
        top["text"] >= max(row["text"] for row in nearest)
    return Signals(1.0 if semantic_first and text_first else 0.0, _unit(title_coverage), _unit(query_coverage))


def family_of(workflow_id: str, steps_of: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The workflows of ``workflow_id``'s composite family among the candidates: the workflows its steps run
    when it is a composite, and the composites that run it as a step (``steps_of``: composite -> step
    workflow ids)."""
    own = steps_of.get(workflow_id, frozenset())
    return frozenset(own | {composite for composite, steps in steps_of.items() if workflow_id in steps})


def probability(found: Signals) -> float:
    """Estimated probability that the top result is right (logistic model, see the module docstring)."""
    z = INTERCEPT + sum(w * x for w, x in zip(WEIGHTS, found.features(), strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def is_confident(has_query: bool, result_count: int, found: Signals | None) -> bool:
    """The response's `confident`: without a query, whether anything matched the labels; with one,
    whether the top result is judged to fit (never when there is no result)."""
    if result_count == 0:
        return False
    if not has_query:
        return True
    return found is not None and probability(found) >= THRESHOLD


def plain_words(text: str) -> str:
    """The words of ``text`` that stand alone (letters only once surrounding punctuation is stripped), for
    query_coverage: "inodes" or "leader" name a topic even when no workflow mentions them, while "data-loki-0",
    "kubelet.service", "10.0.42.17:9100" or "nvme0n1" name instances and measurements."""
    tokens = (token.strip(_PUNCTUATION) for token in text.split())
    return " ".join(token for token in tokens if token.isalpha())


_PUNCTUATION = ".,;:!?()[]{}<>\"'`"


def _unit(value: float) -> float:
    return min(max(float(value), 0.0), 1.0)
