"""Search requests and the scoring rule, as pure functions (no SQL, no HTTP).

Score = W_SEMANTIC * semantic + W_TEXT * text + W_LABELS * labels, each part in [0, 1], so the
score is in [0, 1]; without a query, the label part alone ranks (weight 1). The weights were
chosen on the development queries of bench/search_quality.py as a broad plateau (text twice the
weight of semantic similarity), not per query; see bench/README.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.decimals import ASCII_INTEGER, ASCII_NUMBER
from chalicelib.domain.errors import FieldError, ValidationFailed
from chalicelib.domain.labels import LABEL_KEY, MAX_LABELS, MAX_VALUE_LENGTH, REQUIRED_LABELS, WILDCARD, canonical

DEFAULT_TOP_K, MAX_TOP_K = 10, 100
MAX_QUERY_LENGTH = 4000
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


def embedding_text(title: str, description: str) -> str:
    """What a version's vector represents (labels stay out: they are hard filters and boosts)."""
    return f"{title}\n{description}"


def parse_query_params(params: Mapping[str, str]) -> SearchRequest:
    """GET form: ``query``, required labels and ``priority`` by name, ``label.<key>``, ``top_k``, ``min_score``."""
    labels: dict[str, Any] = {key: params[key] for key in (*REQUIRED_LABELS, "priority") if key in params}
    for name, value in params.items():
        if name.startswith("label."):
            labels[name[len("label."):]] = value
    return _build(params.get("query"), labels, params.get("top_k"), params.get("min_score"), from_query_string=True)


def parse_body(body: Mapping[str, Any]) -> SearchRequest:
    """POST form: ``{"query", "labels", "top_k", "min_score"}``; unknown fields are errors."""
    unknown = sorted(set(body) - {"query", "labels", "top_k", "min_score"})
    if unknown:
        raise ValidationFailed(
            "Unknown fields in the search request.", [FieldError(f"$.{name}", "unknown field") for name in unknown]
        )
    labels = body.get("labels", {})
    if not isinstance(labels, Mapping):
        raise ValidationFailed("Invalid search request.",
                               [FieldError("$.labels", "must be an object of label -> string")])
    return _build(body.get("query"), dict(labels), body.get("top_k"), body.get("min_score"), from_query_string=False)


def _build(query: Any, labels: dict[str, Any], top_k: Any, min_score: Any, from_query_string: bool) -> SearchRequest:
    errors: list[FieldError] = []
    if query is not None and not isinstance(query, str):
        errors.append(FieldError("$.query", "must be a string"))
        query = None
    if isinstance(query, str):
        query = query.strip() or None
        if query is not None and len(query) > MAX_QUERY_LENGTH:
            errors.append(FieldError("$.query", f"at most {MAX_QUERY_LENGTH} characters"))
        elif query is not None and "\x00" in query:
            errors.append(FieldError("$.query", "must not contain NUL characters"))
    if len(labels) > MAX_LABELS:
        errors.append(FieldError("$.labels", f"at most {MAX_LABELS} labels"))
    for key, value in labels.items():
        named = key in (*REQUIRED_LABELS, "priority")
        where = f"$.label.{key}" if from_query_string and not named else f"$.labels.{key}"
        if not isinstance(key, str) or not LABEL_KEY.match(key):
            errors.append(FieldError(where, "label keys are lower_snake_case, at most 63 characters"))
        elif not isinstance(value, str):
            errors.append(FieldError(where, "a label filter is one string value"))
        elif not value.strip() or len(value) > MAX_VALUE_LENGTH or "\x00" in value:
            errors.append(FieldError(where, f"a label value is 1-{MAX_VALUE_LENGTH} characters, no NUL"))
    top = _number(top_k, "top_k", DEFAULT_TOP_K, 1, MAX_TOP_K, integer=True, errors=errors)
    floor = _number(min_score, "min_score", 0.0, 0.0, 1.0, integer=False, errors=errors)
    if errors:
        raise ValidationFailed("The search request is not valid; see errors.", errors)
    return SearchRequest(query=query, labels=labels, top_k=int(top), min_score=float(floor))


def _number(raw: Any, name: str, default: float, low: float, high: float, integer: bool,
            errors: list[FieldError]) -> float:
    if raw is None or raw == "":
        return default
    what = "an integer" if integer else "a number"
    try:
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, str):
            if not (ASCII_INTEGER if integer else ASCII_NUMBER).fullmatch(raw):
                raise ValueError
            value: float = int(raw) if integer else float(raw)
        elif integer and isinstance(raw, int):
            value = raw
        elif integer and isinstance(raw, float) and raw.is_integer():
            value = raw  # JSON does not tell 5.0 from 5 (nor does JSON Schema's "integer")
        elif not integer and isinstance(raw, (int, float)):
            value = float(raw)
        else:
            raise ValueError
    except ValueError:
        errors.append(FieldError(f"$.{name}", f"must be {what}"))
        return default
    if not math.isfinite(value) or not low <= value <= high:
        errors.append(FieldError(f"$.{name}", f"must be between {low:g} and {high:g}"))
        return default
    return value


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
