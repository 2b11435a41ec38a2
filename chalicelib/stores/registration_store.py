"""SQL for registrations (migrations/003_registrations.sql). No decisions here: see services/registration."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg2.extras import Json

from chalicelib.domain.errors import FieldError
from chalicelib.domain.resource import WorkflowResource
from chalicelib.domain.rows import Row
from chalicelib.domain.vocabularies import RegistrationStatus
from chalicelib.stores.db import UnitOfWork

PENDING, RUNNING, SUCCEEDED, FAILED = RegistrationStatus


# A delivery: (cluster, namespace, uid, generation, event), the unique index registrations_one_per_delivery (012).
DELIVERY_KEY_SQL = "(cluster, (resource ->> 'namespace'), resource_uid, generation, event)"


def insert(
    tx: UnitOfWork, event: str, resource: WorkflowResource, requested_by: str, correlation_id: str | None
) -> tuple[Row, bool]:
    """Inserts a pending registration; returns (row, created). The same delivery returns the existing row."""
    tx.execute(
        f"""INSERT INTO registrations (registration_id, resource_uid, generation, event, resource, workflow_id,
                                       version, image, requested_by, correlation_id, cluster)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT {DELIVERY_KEY_SQL} DO NOTHING
            RETURNING *""",
        (
            str(uuid.uuid4()), resource.uid, resource.generation, event, Json(resource.to_dict()),
            resource.workflow_id, resource.version, resource.image, requested_by, correlation_id, resource.cluster,
        ),
    )  # fmt: skip
    row = tx.fetchone()
    if row is not None:
        return row, True
    tx.execute(
        f"SELECT * FROM registrations WHERE {DELIVERY_KEY_SQL} = (%s, %s, %s, %s, %s)",
        (resource.cluster, resource.namespace, resource.uid, resource.generation, event),
    )
    return tx.one(), False


def unregistered(tx: UnitOfWork, cluster: str, live: list[tuple[str, str, int]]) -> Sequence[str]:
    """The uids among ``live`` (uid, namespace, generation) of ``cluster`` with no delivery of that generation (or a
    later one) recorded from that cluster and namespace: changes the catalog never saw. A failed or running
    registration counts as seen."""
    if not live:
        return []
    tx.execute(
        """SELECT l.uid FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS l(uid, namespace, generation)
            WHERE NOT EXISTS (SELECT 1 FROM registrations r
                               WHERE r.cluster = %s AND r.resource ->> 'namespace' = l.namespace
                                 AND r.resource_uid = l.uid AND r.generation >= l.generation AND r.event <> 'DELETED')
            ORDER BY l.uid""",
        ([uid for uid, _, _ in live], [namespace for _, namespace, _ in live],
         [generation for _, _, generation in live], cluster),
    )
    return [row["uid"] for row in tx.fetchall()]


def get(tx: UnitOfWork, registration_id: str) -> Row | None:
    tx.execute("SELECT * FROM registrations WHERE registration_id = %s", (registration_id,))
    return tx.fetchone()


def delete_pending(tx: UnitOfWork, registration_id: str) -> None:
    """Undoes an insert whose job could not be queued, so the next delivery queues it again."""
    tx.execute("DELETE FROM registrations WHERE registration_id = %s AND status = 'pending'", (registration_id,))


def claim(tx: UnitOfWork, registration_id: str, owner: str, lease_seconds: float) -> Row | None:
    """Marks a pending registration running under ``owner``'s lease and counts the attempt.

    A running one is claimed again only once its lease expired (its worker died; the job is
    idempotent). None when it is finished or another worker holds it.
    """
    tx.execute(
        """UPDATE registrations
              SET status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now()),
                  lease_owner = %s, lease_expires_at = clock_timestamp() + make_interval(secs => %s)
            WHERE registration_id = %s
              AND (status = 'pending' OR (status = 'running' AND lease_expires_at < clock_timestamp()))
        RETURNING *""",
        (owner, lease_seconds, registration_id),
    )
    return tx.fetchone()


def renew_leases(tx: UnitOfWork, registration_ids: list[str], owner: str, lease_seconds: float) -> int:
    """Extends the leases ``owner`` holds on running registrations; returns how many it still holds."""
    tx.execute(
        """UPDATE registrations SET lease_expires_at = clock_timestamp() + make_interval(secs => %s)
            WHERE registration_id = ANY(%s::uuid[]) AND lease_owner = %s AND status = 'running'""",
        (lease_seconds, registration_ids, owner),
    )
    return tx.rowcount


def requeue_if_due(tx: UnitOfWork, registration_id: str, pending_seconds: float) -> Row | None:
    """The registration, marked as queued now, if its job looks lost (as in ``due_again``); else None."""
    tx.execute(
        """UPDATE registrations SET queued_at = clock_timestamp()
            WHERE registration_id = %s
              AND ((status = 'running' AND lease_expires_at < clock_timestamp())
                   OR (status = 'pending' AND queued_at < clock_timestamp() - make_interval(secs => %s)))
        RETURNING registration_id, workflow_id, version, status, correlation_id""",
        (registration_id, pending_seconds),
    )
    return tx.fetchone()


def abandon(tx: UnitOfWork, max_attempts: int, reason: str, title: str) -> Sequence[Row]:
    """Fails running registrations whose lease expired after ``max_attempts`` attempts (their worker kept
    dying: a job that crashes its process must not be retried forever); returns them."""
    tx.execute(
        """UPDATE registrations
              SET status = 'failed', error_type = %s, error_title = %s,
                  error_detail = format('The registration job stopped unexpectedly %%s times (the worker '
                                        'running it died or timed out); it was not retried again.', attempts),
                  error_errors = NULL, finished_at = clock_timestamp(), lease_owner = NULL, lease_expires_at = NULL
            WHERE status = 'running' AND lease_expires_at < clock_timestamp() AND attempts >= %s
        RETURNING registration_id, workflow_id, version, correlation_id""",
        (reason, title, max_attempts),
    )
    return tx.fetchall()


def due_again(tx: UnitOfWork, pending_seconds: float, limit: int) -> Sequence[Row]:
    """Registrations to queue again, marked as queued now: running ones whose lease expired, and pending
    ones queued longer than ``pending_seconds`` ago. Rows another sweeper is handling are skipped."""
    tx.execute(
        """WITH due AS (
               SELECT registration_id FROM registrations
                WHERE (status = 'running' AND lease_expires_at < clock_timestamp())
                   OR (status = 'pending' AND queued_at < clock_timestamp() - make_interval(secs => %s))
                ORDER BY created_at
                LIMIT %s
                  FOR UPDATE SKIP LOCKED
           )
           UPDATE registrations r SET queued_at = clock_timestamp()
             FROM due WHERE r.registration_id = due.registration_id
        RETURNING r.registration_id, r.workflow_id, r.version, r.status, r.correlation_id""",
        (pending_seconds, limit),
    )
    return tx.fetchall()


def succeed(tx: UnitOfWork, registration_id: str, image_digest: str | None, container_image: str | None) -> bool:
    tx.execute(
        """UPDATE registrations
              SET status = 'succeeded', image_digest = %s, container_image = %s, finished_at = clock_timestamp(),
                  error_type = NULL, error_title = NULL, error_detail = NULL, error_errors = NULL,
                  lease_owner = NULL, lease_expires_at = NULL
            WHERE registration_id = %s AND status IN ('pending', 'running')""",
        (image_digest, container_image, registration_id),
    )
    return tx.rowcount == 1


def fail(
    tx: UnitOfWork,
    registration_id: str,
    reason: str,
    title: str,
    detail: str,
    errors: list[FieldError],
    image_digest: str | None,
) -> bool:
    tx.execute(
        """UPDATE registrations
              SET status = 'failed', error_type = %s, error_title = %s, error_detail = %s, error_errors = %s,
                  image_digest = coalesce(%s, image_digest), finished_at = clock_timestamp(),
                  lease_owner = NULL, lease_expires_at = NULL
            WHERE registration_id = %s AND status IN ('pending', 'running')""",
        (reason, title, detail, Json([e.to_dict() for e in errors]) if errors else None, image_digest, registration_id),
    )
    return tx.rowcount == 1


def release_for_retry(tx: UnitOfWork, registration_id: str, reason: str, detail: str) -> None:
    """Back to pending for the queue's next delivery, keeping the transient problem visible meanwhile."""
    tx.execute(
        """UPDATE registrations
              SET status = 'pending', error_type = %s, error_title = 'Retrying', error_detail = %s,
                  lease_owner = NULL, lease_expires_at = NULL, queued_at = clock_timestamp()
            WHERE registration_id = %s AND status = 'running'""",
        (reason, detail, registration_id),
    )


def resource_of(row: Mapping[str, Any]) -> WorkflowResource:
    return WorkflowResource.from_dict(row["resource"])
