"""Recommendation use cases: record a post (or count it on the open recommendation it repeats), read
them, and an operator's decision. Nothing here creates a workflow: operators register workflows the
usual way and link them when they accept.

The repeat rule is in chalicelib/domain/recommendations.py; the stems come from PostgreSQL
(chalicelib/stores/recommendation_store.py). A post and its repeat check run in one transaction
under a lock on its group, so concurrent repeats of one recommendation never open two.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.errors import FieldError, NotFound, ValidationFailed
from chalicelib.domain.limits import MAX_LISTED_INCIDENTS
from chalicelib.domain.paging import Page, keyset_page, read_cursor
from chalicelib.domain.recommendations import (
    ACCEPTED,
    GENERIC_WORDS,
    OPEN,
    Candidate,
    Decision,
    NewRecommendation,
    check_decision,
    content_terms,
    repeated,
)
from chalicelib.domain.rows import Row
from chalicelib.observability import bind, logger
from chalicelib.stores import recommendation_store as store
from chalicelib.stores.db import Database, UnitOfWork
from chalicelib.stores.recommendation_store import NewRow


@dataclass(frozen=True)
class Recommendation:
    """A recommendation with its newest incidents and its status changes."""

    row: Row
    incidents: Sequence[Row]
    events: Sequence[Row]


@dataclass(frozen=True)
class Posted:
    recommendation: Recommendation
    created: bool  # False: the post repeated an open recommendation (or was a retry of one)


class RecommendationService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def recommend(self, new: NewRecommendation, actor: str) -> Posted:
        with self._db.transaction() as tx:
            if new.related_workflow_id is not None and not store.workflow_exists(tx, new.related_workflow_id):
                raise ValidationFailed("The recommendation is not valid; see errors.", [FieldError(
                    "$.related_workflow_id", f"no workflow '{new.related_workflow_id}' is in the catalog; "
                    "name an existing one or leave it out")])
            store.lock_group(tx, new.group)
            summary_stems, generic, group_words = store.stems(tx, [new.summary_text, GENERIC_WORDS, new.group_text])
            ignored = [*generic, *group_words]
            candidates = [Candidate(row["id"], row["summary_stems"]) for row in store.open_in_group(tx, new.group)]
            match = repeated(content_terms(summary_stems, ignored), candidates, ignored)
            if match is None:
                row = store.insert(tx, NewRow(
                    recommendation_id=str(uuid.uuid4()), signal_type=new.signal_type, component=new.component,
                    group_key=new.group, summary=new.summary, summary_stems=summary_stems, rationale=new.rationale,
                    proposed_steps=new.proposed_steps, confidence=new.confidence,
                    related_workflow_id=new.related_workflow_id, created_by=actor,
                ))
                store.insert_event(tx, row["recommendation_id"], None, OPEN, None, None, actor)
                self._record_incident(tx, row, new, actor)
            else:
                row = store.get_by_id(tx, match)
                if self._record_incident(tx, row, new, actor):
                    row = store.count_occurrence(tx, match, new.confidence)
            posted = Posted(self._with_details(tx, row), created=match is None)
        bind(recommendation_id=row["recommendation_id"])
        logger.info("recommendation recorded" if posted.created else "recommendation repeated", extra={
            "recommendation_id": row["recommendation_id"], "incident_id": new.incident_id,
            "signal_type": new.signal_type, "occurrences": row["occurrences"],
        })
        return posted

    @staticmethod
    def _record_incident(tx: UnitOfWork, row: Row, new: NewRecommendation, actor: str) -> bool:
        return store.add_incident(tx, row["recommendation_id"], new.incident_id, new.incident, new.summary,
                                  new.confidence, actor)

    def get(self, recommendation_id: str) -> Recommendation:
        with self._db.reading() as tx:
            row = store.get(tx, recommendation_id)
            if row is None:
                raise NotFound(f"No recommendation '{recommendation_id}'.")
            return self._with_details(tx, row)

    def decide(self, recommendation_id: str, decision: Decision, actor: str) -> Recommendation:
        """Accepts (linking a workflow that exists) or dismisses an open recommendation, with its reason."""
        with self._db.transaction() as tx:
            current = store.get(tx, recommendation_id)
            if current is None:
                raise NotFound(f"No recommendation '{recommendation_id}'.")
            # The group's lock first (as a post takes it), so a post never counts on a row decided meanwhile.
            store.lock_group(tx, current["group_key"])
            current = store.get(tx, recommendation_id, for_update=True)
            assert current is not None  # recommendations are never deleted
            check_decision(recommendation_id, current["status"], decision.status)
            if decision.status == ACCEPTED:
                assert decision.workflow_id is not None  # the contract requires it to accept
                if not store.workflow_exists(tx, decision.workflow_id):
                    raise ValidationFailed("The decision is not valid; see errors.", [FieldError(
                        "$.workflow_id", f"no workflow '{decision.workflow_id}' is in the catalog; register the "
                        "workflow first (accepting only links it)")])
            row = store.set_status(tx, recommendation_id, decision.status, decision.workflow_id)
            store.insert_event(tx, recommendation_id, current["status"], decision.status, decision.reason,
                               decision.workflow_id, actor)
            result = self._with_details(tx, row)
        logger.info("recommendation decided", extra={
            "recommendation_id": recommendation_id, "from_status": current["status"], "status": decision.status,
            "workflow_id": decision.workflow_id,
        })
        return result

    def list_page(self, status: str, limit: int, cursor: str | None) -> Page:
        """Most occurrences first."""
        after = read_cursor(cursor, store.RECOMMENDATIONS)
        with self._db.reading() as tx:
            rows = store.list_page(tx, status, limit + 1, after)
        return keyset_page(rows, limit, store.RECOMMENDATIONS)

    @staticmethod
    def _with_details(tx: UnitOfWork, row: Row) -> Recommendation:
        recommendation_id = row["recommendation_id"]
        return Recommendation(row, store.incidents(tx, recommendation_id, MAX_LISTED_INCIDENTS),
                              store.events(tx, recommendation_id))

