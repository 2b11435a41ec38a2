"""Recommendations: what an agent asks operators for when no catalog workflow fits an incident.

Nothing is created automatically: an agent posts a recommendation, repeats of an open one are
grouped, and an operator accepts it (linking a workflow they registered) or dismisses it.

When is a post a repeat of an open recommendation ("saying the same thing")?
- Same group: the same ``signal_type`` and the same ``component`` label of the incident (compared
  trimmed and case-insensitively; incidents without a component form a group of their own).
- And summaries that say the same thing, decided on their content words: each summary is split
  like the search index splits text (CamelCase identifiers such as ``OOMKilled`` become words),
  then stemmed by PostgreSQL's English full-text configuration, which also drops stop words; from
  those stems the rule removes the whole forms of hyphenated compounds (``scale-out``: its parts are
  stems too), the words every recommendation uses (``GENERIC_WORDS``) and the group's own
  signal_type and component words, which both summaries share by construction. Two summaries say the same thing
  when their content words overlap with a Dice coefficient 2|A∩B| / (|A| + |B|) of at least
  ``SAME_THING_THRESHOLD`` (0.8: one extra word is tolerated, a swapped word only among five or more
  content words); when nothing is left of either, they say the same thing only if both are empty.
So case, punctuation, plural and tense, word order and filler ("Need a workflow that ...") do not
matter, while a different action or target ("raise the memory limit" vs "restart with a heap
dump") does. Known limit: one crucial word swapped in otherwise equal wording ("clear the disk
cache" vs "clear the DNS cache") scores 0.75 and stays separate, as wanted, but so would a synonym
swap in a short summary; an operator can dismiss a duplicate with a reason.
The stemming is PostgreSQL's (chalicelib/stores/recommendation_store.py); this module decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contracts import NEW_RECOMMENDATION, RECOMMENDATION_DECISION
from chalicelib.domain.errors import InvalidTransition, ValidationFailed
from chalicelib.domain.labels import canonical
from chalicelib.domain.search import split_camel_case
from chalicelib.domain.storable import incident_error
from chalicelib.domain.vocabularies import RecommendationStatus

OPEN, ACCEPTED, DISMISSED = RecommendationStatus
STATUSES = tuple(RecommendationStatus)
# open -> accepted | dismissed; a decided recommendation is final (a new post opens a new one).
TRANSITIONS: dict[str, frozenset[str]] = {OPEN: frozenset({ACCEPTED, DISMISSED}), ACCEPTED: frozenset(),
                                          DISMISSED: frozenset()}

SAME_THING_THRESHOLD = 0.8
# Words that say "a workflow is missing" rather than what it should do (stemmed like the summaries).
GENERIC_WORDS = (
    "workflow workflows runbook runbooks playbook playbooks remediation remediations remediate automated "
    "automation automate automatically need needs needed missing new create add catalog incident incidents "
    "alert alerts recommend recommended recommendation please"
)


@dataclass(frozen=True)
class NewRecommendation:
    """A well-formed recommendation (its related workflow's existence is checked by the service)."""

    incident: dict[str, Any]
    summary: str
    rationale: str | None
    proposed_steps: list[str]
    confidence: float
    related_workflow_id: str | None

    @property
    def incident_id(self) -> str:
        return str(self.incident["id"])

    @property
    def signal_type(self) -> str:
        return str(self.incident["signal_type"]).strip()

    @property
    def component(self) -> str | None:
        value = self.incident.get("component")
        return value.strip() if isinstance(value, str) else None

    @property
    def group(self) -> str:
        """Repeats are looked for among the open recommendations of this group."""
        return group_key(self.signal_type, self.component)

    @property
    def summary_text(self) -> str:
        """The summary as the stemmer gets it (CamelCase split)."""
        return split_camel_case(self.summary)

    @property
    def group_text(self) -> str:
        """The group's own words, removed from both summaries before comparing them."""
        return split_camel_case(f"{self.signal_type} {self.component or ''}")


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str
    workflow_id: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Decision:
        """An operator's decision; linking a workflow is what accepting means, so dismissing takes none."""
        RECOMMENDATION_DECISION.check(body)
        return cls(body["status"], body["reason"].strip(), body.get("workflow_id"))


def parse_new_recommendation(body: Mapping[str, Any]) -> NewRecommendation:
    """A recommendation checked against NEW_RECOMMENDATION and the incident's size and depth limits."""
    errors = NEW_RECOMMENDATION.errors(body)
    incident = body.get("incident")
    if isinstance(incident, Mapping) and not any(e.path.startswith("$.incident") for e in errors):
        bad = incident_error(incident)
        if bad:
            errors.append(bad)
    if errors:
        raise ValidationFailed(NEW_RECOMMENDATION.detail, sorted(errors, key=lambda e: e.path))
    rationale = (body.get("rationale") or "").strip() or None
    return NewRecommendation(
        incident=dict(body["incident"]),
        summary=body["summary"].strip(),
        rationale=rationale,
        proposed_steps=[step.strip() for step in body.get("proposed_steps", [])],
        confidence=float(body["confidence"]),
        related_workflow_id=body.get("related_workflow_id"),
    )


def group_key(signal_type: str, component: str | None) -> str:
    return json.dumps([canonical(signal_type), canonical(component or "")])


def content_terms(summary_stems: Iterable[str], ignored_stems: Iterable[str]) -> frozenset[str]:
    """The stems that carry a summary's meaning: whole hyphenated compounds (their parts are stems too)
    and ``ignored_stems`` (generic words, the group's own words) removed."""
    ignored = set(ignored_stems)
    return frozenset(stem for stem in summary_stems if "-" not in stem and stem not in ignored)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice coefficient of two term sets; two empty sets are the same (1.0)."""
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def says_the_same_thing(a: frozenset[str], b: frozenset[str]) -> bool:
    return similarity(a, b) >= SAME_THING_THRESHOLD


@dataclass(frozen=True)
class Candidate:
    """An open recommendation of the group, with its summary's stems."""

    id: int
    stems: Sequence[str]


def repeated(terms: frozenset[str], candidates: Iterable[Candidate], ignored_stems: Iterable[str]) -> int | None:
    """The id of the open recommendation a summary with ``terms`` repeats: the most similar one at or over
    the threshold (the oldest on a tie), or None."""
    ignored = frozenset(ignored_stems)
    best: tuple[float, int] | None = None
    for candidate in candidates:
        score = similarity(terms, content_terms(candidate.stems, ignored))
        if score >= SAME_THING_THRESHOLD and (best is None or (score, -candidate.id) > (best[0], -best[1])):
            best = (score, candidate.id)
    return best[1] if best else None


def check_decision(recommendation_id: str, current: str, target: str) -> None:
    if target in TRANSITIONS[current]:
        return
    raise InvalidTransition(
        f"Recommendation {recommendation_id} is already {current}, which is final; a new post about the same "
        "gap opens a new recommendation."
    )
