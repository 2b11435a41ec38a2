"""SQL for the notification outbox and its deliveries (migration 013). No decisions here: see
services/notifications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg2.extras import Json

from chalicelib.domain.notifications import DELIVERED, Notification, OutboxEvent
from chalicelib.stores.db import UnitOfWork


@dataclass(frozen=True)
class Claim:
    """A delivery a deliverer holds until ``lease`` runs out; ``attempt`` fences its later updates."""

    delivery_id: int
    attempt: int
    age_seconds: float  # of the event, by the database's clock
    event: OutboxEvent


def insert(tx: UnitOfWork, notifications: Sequence[Notification], channels: Sequence[str]) -> None:
    """Records the events with a delivery per channel, due at once, in one statement of the caller's
    transaction."""
    if not notifications:
        return
    tx.execute(
        """WITH new AS (
               INSERT INTO notifications (event_id, event_type, data)
               SELECT (e->>'event_id')::uuid, e->>'event_type', e->'data' FROM jsonb_array_elements(%(events)s) e
               RETURNING event_id, occurred_at)
           INSERT INTO notification_deliveries (event_id, channel, next_attempt_at)
           SELECT new.event_id, channel, new.occurred_at FROM new CROSS JOIN unnest(%(channels)s::text[]) AS channel""",
        {"events": Json([{"event_id": n.event_id, "event_type": n.event_type, "data": n.data} for n in notifications]),
         "channels": list(channels)},
    )


def claim(tx: UnitOfWork, channel: str, lease_seconds: float) -> Claim | None:
    """The channel's oldest due delivery that no other deliverer holds, leased: due again only after
    ``lease_seconds`` unless its outcome is recorded first."""
    tx.execute(
        """UPDATE notification_deliveries AS d
               SET attempts = d.attempts + 1, last_attempt_at = now(),
                   next_attempt_at = now() + make_interval(secs => %(lease)s)
            FROM (SELECT id FROM notification_deliveries
                  WHERE channel = %(channel)s AND status = 'pending' AND next_attempt_at <= now()
                  ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) AS due,
                 notifications AS n
            WHERE d.id = due.id AND n.event_id = d.event_id
            RETURNING d.id, d.attempts, n.event_id::text AS event_id, n.event_type, n.occurred_at, n.data,
                      extract(epoch FROM now() - n.occurred_at)::float8 AS age_seconds""",
        {"channel": channel, "lease": lease_seconds},
    )
    row = tx.fetchone()
    if row is None:
        return None
    event = OutboxEvent(row["event_id"], row["event_type"], row["occurred_at"], row["data"])
    return Claim(row["id"], row["attempts"], row["age_seconds"], event)


def finish(tx: UnitOfWork, claim: Claim, status: str, error: str | None) -> bool:
    """Records that the claimed attempt delivered (``delivered``) or was the last (``abandoned``); False when
    another deliverer claimed the row since (this one's lease ran out), which then decides."""
    tx.execute(
        """UPDATE notification_deliveries SET status = %s, finished_at = now(), last_error = %s
           WHERE id = %s AND attempts = %s AND status = 'pending'""",
        (status, None if status == DELIVERED else error, claim.delivery_id, claim.attempt),
    )
    return tx.rowcount == 1


def retry_later(tx: UnitOfWork, claim: Claim, delay_seconds: float, error: str) -> bool:
    """Records a failed attempt and when to try again; False as in ``finish``."""
    tx.execute(
        """UPDATE notification_deliveries
           SET next_attempt_at = now() + make_interval(secs => %s), last_error = %s
           WHERE id = %s AND attempts = %s AND status = 'pending'""",
        (delay_seconds, error, claim.delivery_id, claim.attempt),
    )
    return tx.rowcount == 1


def purge(tx: UnitOfWork, older_than_seconds: int, limit: int) -> int:
    """Deletes up to ``limit`` of the oldest events older than that (their deliveries with them)."""
    tx.execute(
        """DELETE FROM notifications WHERE id IN (
               SELECT id FROM notifications WHERE occurred_at < now() - make_interval(secs => %s)
               ORDER BY occurred_at LIMIT %s)""",
        (older_than_seconds, limit),
    )
    return tx.rowcount
