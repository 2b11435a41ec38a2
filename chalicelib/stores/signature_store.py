"""SQL for signature check results (migrations/005_signatures.sql). No decisions here: see adapters/signatures."""

from __future__ import annotations

from psycopg2.extras import Json

from chalicelib.domain.signature_policy import SignatureResult
from chalicelib.stores.db import UnitOfWork


def record_on_registration(tx: UnitOfWork, registration_id: str, result: SignatureResult) -> None:
    tx.execute(
        "UPDATE registrations SET signature = %s WHERE registration_id = %s", (Json(result.to_dict()), registration_id)
    )


def record_on_version(tx: UnitOfWork, workflow_id: str, version: str, result: SignatureResult) -> None:
    """The latest check of the version's pinned image (an identical re-registration checks it again)."""
    tx.execute(
        "UPDATE workflow_versions SET signature = %s WHERE workflow_id = %s AND version = %s",
        (Json(result.summary()), workflow_id, version),
    )
