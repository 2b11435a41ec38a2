"""SQL for recommendations, their incidents and their status changes. No decisions here: see
services/recommendations and domain/recommendations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg2.extras import Json

from chalicelib.domain.paging import Keyset, ints
from chalicelib.domain.rows import Row
from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.where import Where

# PostgreSQL's English configuration (Snowball stemmer and stop words), the same on every PostgreSQL.
STEMMING = "english"
COLUMNS = """
    r.id, r.recommendation_id::text AS recommendation_id, r.status, r.signal_type, r.component, r.summary,
    r.summary_stems, r.rationale, r.proposed_steps, r.confidence, r.related_workflow_id, r.occurrences,
    r.workflow_id, r.created_by, r.created_at, r.last_seen_at, r.updated_at, r.group_key
"""


@dataclass(frozen=True)
class NewRow:
    recommendation_id: str
    signal_type: str
    component: str | None
    group_key: str
    summary: str
    summary_stems: Sequence[str]
    rationale: str | None
    proposed_steps: list[str]
    confidence: float
    related_workflow_id: str | None
    created_by: str


def lock_group(tx: UnitOfWork, group_key: str) -> None:
    """Serialises posts to one group until commit: the repeat check and the insert act as one step."""
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('recommendations:' || %s, 0))", (group_key,))


def stems(tx: UnitOfWork, texts: Sequence[str]) -> list[list[str]]:
    """The stems of each text (stop words dropped), in the order given."""
    tx.execute(
        f"""SELECT coalesce(tsvector_to_array(to_tsvector('{STEMMING}', t.text)), '{{}}') AS stems
            FROM unnest(%s::text[]) WITH ORDINALITY AS t(text, n) ORDER BY t.n""",
        (list(texts),),
    )
    return [list(row["stems"]) for row in tx.fetchall()]


def open_in_group(tx: UnitOfWork, group_key: str) -> Sequence[Row]:
    tx.execute(
        "SELECT id, summary_stems FROM recommendations WHERE group_key = %s AND status = 'open' ORDER BY id",
        (group_key,),
    )
    return tx.fetchall()


def workflow_exists(tx: UnitOfWork, workflow_id: str) -> bool:
    tx.execute("SELECT 1 FROM workflows WHERE workflow_id = %s", (workflow_id,))
    return tx.fetchone() is not None


def insert(tx: UnitOfWork, new: NewRow) -> Row:
    tx.execute(
        f"""INSERT INTO recommendations AS r
               (recommendation_id, signal_type, component, group_key, summary, summary_stems, rationale,
                proposed_steps, confidence, related_workflow_id, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           RETURNING {COLUMNS}""",
        (new.recommendation_id, new.signal_type, new.component, new.group_key, new.summary,
         list(new.summary_stems), new.rationale, Json(new.proposed_steps), new.confidence,
         new.related_workflow_id, new.created_by),
    )
    return tx.one()


def add_incident(tx: UnitOfWork, recommendation_id: str, incident_id: str, incident: dict, summary: str,
                 confidence: float, actor: str) -> bool:
    """Records an incident's post; False when that incident was already recorded (a retry)."""
    tx.execute(
        """INSERT INTO recommendation_incidents
               (recommendation_id, incident_id, incident, summary, confidence, recorded_by)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (recommendation_id, incident_id) DO NOTHING""",
        (recommendation_id, incident_id, Json(incident), summary, confidence, actor),
    )
    return tx.rowcount == 1


def count_occurrence(tx: UnitOfWork, id_: int, confidence: float) -> Row:
    tx.execute(
        f"""UPDATE recommendations AS r
            SET occurrences = r.occurrences + 1, confidence = greatest(r.confidence, %s),
                last_seen_at = now(), updated_at = now()
            WHERE r.id = %s RETURNING {COLUMNS}""",
        (confidence, id_),
    )
    return tx.one()


def get_by_id(tx: UnitOfWork, id_: int) -> Row:
    tx.execute(f"SELECT {COLUMNS} FROM recommendations r WHERE r.id = %s", (id_,))
    return tx.one()


def get(tx: UnitOfWork, recommendation_id: str, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    tx.execute(f"SELECT {COLUMNS} FROM recommendations r WHERE r.recommendation_id = %s{lock}",
               (recommendation_id,))
    return tx.fetchone()


def set_status(tx: UnitOfWork, recommendation_id: str, status: str, workflow_id: str | None) -> Row:
    tx.execute(
        f"""UPDATE recommendations AS r SET status = %s, workflow_id = %s, updated_at = now()
            WHERE r.recommendation_id = %s RETURNING {COLUMNS}""",
        (status, workflow_id, recommendation_id),
    )
    return tx.one()


def insert_event(tx: UnitOfWork, recommendation_id: str, from_status: str | None, to_status: str,
                 reason: str | None, workflow_id: str | None, actor: str) -> None:
    tx.execute(
        """INSERT INTO recommendation_events
               (recommendation_id, from_status, to_status, reason, workflow_id, changed_by)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (recommendation_id, from_status, to_status, reason, workflow_id, actor),
    )


def incidents(tx: UnitOfWork, recommendation_id: str, limit: int) -> Sequence[Row]:
    """The newest ``limit`` incidents of a recommendation, newest first."""
    tx.execute(
        """SELECT incident_id, incident, summary, confidence, recorded_by, recorded_at
           FROM recommendation_incidents WHERE recommendation_id = %s ORDER BY id DESC LIMIT %s""",
        (recommendation_id, limit),
    )
    return tx.fetchall()


def events(tx: UnitOfWork, recommendation_id: str) -> Sequence[Row]:
    tx.execute(
        """SELECT from_status, to_status, reason, workflow_id, changed_by, changed_at
           FROM recommendation_events WHERE recommendation_id = %s ORDER BY id""",
        (recommendation_id,),
    )
    return tx.fetchall()


# Recommendations, most occurrences first, then id (list_page's order).
RECOMMENDATIONS = Keyset(lambda row: [row["occurrences"], row["id"]], lambda p: ints(p, 2, (2**31, 2**63)))


def list_page(tx: UnitOfWork, status: str, limit: int, after: list[int] | None) -> Sequence[Row]:
    """Most occurrences first, then oldest (id, unique, so the order is total); keyset pagination."""
    where = Where("r.status = %s", params=(status,)).add(
        "(r.occurrences < %s OR (r.occurrences = %s AND r.id > %s))", *((after[0], *after) if after else ()),
        when=after is not None)
    tx.execute(
        f"""SELECT {COLUMNS} FROM recommendations r WHERE {where.sql}
            ORDER BY r.occurrences DESC, r.id LIMIT %s""",
        [*where.params, limit],
    )
    return tx.fetchall()
