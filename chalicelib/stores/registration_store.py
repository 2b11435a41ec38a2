"""SQL for registrations (migrations/003_registrations.sql). No decisions here: see services/registration."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from psycopg2.extras import Json, RealDictCursor

from chalicelib.domain.errors import FieldError
from chalicelib.domain.resource import WorkflowResource
from chalicelib.stores.rows import Row, fetch_one

PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"


def insert(
    cur: RealDictCursor, event: str, resource: WorkflowResource, requested_by: str, correlation_id: str | None
) -> tuple[Row, bool]:
    """Inserts a pending registration; returns (row, created). The same delivery returns the existing row."""
    cur.execute(
        """INSERT INTO registrations (registration_id, resource_uid, generation, event, resource, workflow_id,
                                      version, image, requested_by, correlation_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (resource_uid, generation, event) DO NOTHING
           RETURNING *""",
        (
            str(uuid.uuid4()), resource.uid, resource.generation, event, Json(resource.to_dict()),
            resource.workflow_id, resource.version, resource.image, requested_by, correlation_id,
        ),
    )  # fmt: skip
    row = cur.fetchone()
    if row is not None:
        return row, True
    cur.execute(
        "SELECT * FROM registrations WHERE resource_uid = %s AND generation = %s AND event = %s",
        (resource.uid, resource.generation, event),
    )
    return fetch_one(cur), False


def get(cur: RealDictCursor, registration_id: str) -> Row | None:
    cur.execute("SELECT * FROM registrations WHERE registration_id = %s", (registration_id,))
    return cur.fetchone()


def delete_pending(cur: RealDictCursor, registration_id: str) -> None:
    """Undoes an insert whose job could not be queued, so the next delivery queues it again."""
    cur.execute("DELETE FROM registrations WHERE registration_id = %s AND status = 'pending'", (registration_id,))


def claim(cur: RealDictCursor, registration_id: str) -> Row | None:
    """Marks an unfinished registration running and counts the attempt; None when already finished.

    A 'running' row can be claimed again: its worker may have died, and the job is idempotent.
    """
    cur.execute(
        """UPDATE registrations
              SET status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now())
            WHERE registration_id = %s AND status IN ('pending', 'running')
        RETURNING *""",
        (registration_id,),
    )
    return cur.fetchone()


def succeed(cur: RealDictCursor, registration_id: str, image_digest: str | None, container_image: str | None) -> bool:
    cur.execute(
        """UPDATE registrations
              SET status = 'succeeded', image_digest = %s, container_image = %s, finished_at = clock_timestamp(),
                  error_type = NULL, error_title = NULL, error_detail = NULL, error_errors = NULL
            WHERE registration_id = %s AND status IN ('pending', 'running')""",
        (image_digest, container_image, registration_id),
    )
    return cur.rowcount == 1


def fail(
    cur: RealDictCursor,
    registration_id: str,
    reason: str,
    title: str,
    detail: str,
    errors: list[FieldError],
    image_digest: str | None,
) -> bool:
    cur.execute(
        """UPDATE registrations
              SET status = 'failed', error_type = %s, error_title = %s, error_detail = %s, error_errors = %s,
                  image_digest = coalesce(%s, image_digest), finished_at = clock_timestamp()
            WHERE registration_id = %s AND status IN ('pending', 'running')""",
        (reason, title, detail, Json([e.to_dict() for e in errors]) if errors else None, image_digest, registration_id),
    )
    return cur.rowcount == 1


def note_retry(cur: RealDictCursor, registration_id: str, reason: str, detail: str) -> None:
    """Keeps the last transient problem visible while the job waits for its next attempt."""
    cur.execute(
        """UPDATE registrations SET error_type = %s, error_title = 'Retrying', error_detail = %s
            WHERE registration_id = %s AND status = 'running'""",
        (reason, detail, registration_id),
    )


def resource_of(row: Mapping[str, Any]) -> WorkflowResource:
    return WorkflowResource.from_dict(row["resource"])
