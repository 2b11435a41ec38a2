"""Search requests and the scoring rule, as pure functions (no SQL, no HTTP).

Score = W_SEMANTIC * semantic + W_TEXT * text + W_LABELS * labels, each part in [0, 1], so the
score is in [0, 1]; without a query, the label part alone ranks (weight 1). The weights were
chosen on the development queries of bench/search_quality.py as a broad plateau (text twice the
weight of semantic similarity), not per query; see bench/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.contracts import SEARCH_REQUEST, label_filters
from chalicelib.domain.effectiveness import TrackRecord
from chalicelib.domain.labels import WILDCARD, canonical
from chalicelib.domain.limits import DEFAULT_TOP_K, REQUIRED_LABELS

W_SEMANTIC, W_TEXT, W_LABELS = 0.3, 0.6, 0.1
# A label the workflow declares with exactly the requested value counts fully; one it declares as
# "*" (it claims to handle anything) counts half: specific workflows outrank generic ones.
EXACT_POINTS, WILDCARD_POINTS = 1.0, 0.5
SCORE_DECIMALS = 6

# "KubePodCrashLooping" -> "Kube Pod Crash Looping", "HTTPRequestsSlow" -> "HTTP Requests Slow",
# "etcdHighFsyncDurations" -> "etcd High Fsync Durations". Applied to documents and queries alike.
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def split_camel_case(text: str) -> str:
    return _CAMEL_BOUNDARY.sub(" ", text)


@dataclass(frozen=True)
class SearchRequest:
    query: str | None
    labels: dict[str, str] = field(default_factory=dict)
    top_k: int = DEFAULT_TOP_K
    min_score: float = 0.0

    @property
    def constraining_labels(self) -> dict[str, str]:
        """The label filters that constrain anything (a requested ``*`` does not), canonical values."""
        return {k: canonical(v) for k, v in sorted(self.labels.items()) if canonical(v) != WILDCARD}


def document_fields(title: str, description: str, labels: Mapping[str, Any]) -> tuple[str, str, str]:
    """(title, description, label values) as the full-text index sees them: CamelCase split, "*" dropped."""
    values = [v for value in labels.values() for v in ([value] if isinstance(value, str) else value)]
    label_text = " ".join(split_camel_case(v) for v in values if isinstance(v, str) and v.strip() != WILDCARD)
    return split_camel_case(title), split_camel_case(description), label_text


@dataclass(frozen=True)
class IndexEntry:
    """What indexing a version writes: its full-text fields and its vector (None: no usable provider)."""

    title: str
    body: str
    labels: str
    vector: list[float] | None


def searchable_description(description: str, step_titles: Sequence[str] = ()) -> str:
    """The description as search indexes it: a composite workflow's is followed by the titles of its steps'
    workflows, so an incident that names what one step does finds the composite too."""
    return f"{description}\nSteps: {'; '.join(step_titles)}" if step_titles else description


def embedding_text(title: str, description: str) -> str:
    """What a version's vector represents (labels stay out: they are hard filters and boosts)."""
    return f"{title}\n{description}"


def parse_query_params(values: Mapping[str, Any]) -> SearchRequest:
    """GET form, from a query string its contract already checked (SEARCH_QUERY): ``query``, the required labels
    and ``priority`` by name, ``label.<key>``, ``top_k``, ``min_score``."""
    labels: dict[str, str] = {key: values[key] for key in (*REQUIRED_LABELS, "priority") if key in values}
    labels.update(label_filters(values))
    return _request(values.get("query"), labels, values["top_k"], values["min_score"])


def parse_body(body: Mapping[str, Any]) -> SearchRequest:
    """POST form: ``{"query", "labels", "top_k", "min_score"}`` checked against SEARCH_REQUEST."""
    SEARCH_REQUEST.check(body)
    return _request(body.get("query"), dict(body.get("labels", {})), body.get("top_k", DEFAULT_TOP_K),
                    body.get("min_score", 0.0))


def _request(query: str | None, labels: dict[str, str], top_k: Any, min_score: Any) -> SearchRequest:
    query = (query or "").strip() or None
    return SearchRequest(query=query, labels=labels, top_k=int(top_k), min_score=float(min_score))


@dataclass(frozen=True)
class Explanation:
    """Weighted contributions (each rounded to SCORE_DECIMALS) whose sum is the score."""

    semantic: float
    text: float
    label_boost: float
    matched_labels: list[str]

    @property
    def score(self) -> float:
        return round(self.semantic + self.text + self.label_boost, SCORE_DECIMALS)

    def to_dict(self) -> dict[str, Any]:
        return {"semantic": self.semantic, "text": self.text, "label_boost": self.label_boost,
                "matched_labels": self.matched_labels}


def explain(has_query: bool, semantic: float, text: float, label_fraction: float, matched: list[str]) -> Explanation:
    """Combines the raw signals (each in [0, 1]) into weighted, rounded parts."""
    def part(weight: float, value: float) -> float:
        return round(weight * min(max(value, 0.0), 1.0), SCORE_DECIMALS)

    if not has_query:
        return Explanation(0.0, 0.0, part(1.0, label_fraction), matched)
    return Explanation(part(W_SEMANTIC, semantic), part(W_TEXT, text), part(W_LABELS, label_fraction), matched)


@dataclass(frozen=True)
class Hit:
    """One search result: its rank, the version (a row: workflow_id, version, title, description, labels,
    container_image, signature), the explained score and the workflow's track record (for the incident's
    ``track_record_signal``, or overall when it is None); ranking never reads the record."""

    rank: int
    version: Mapping[str, Any]
    explanation: Explanation
    track_record: TrackRecord
    track_record_signal: str | None

    @property
    def workflow_id(self) -> str:
        return str(self.version["workflow_id"])

    @property
    def score(self) -> float:
        return self.explanation.score
