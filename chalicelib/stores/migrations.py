"""Applies the plain SQL files in ``migrations/`` in order, once each, under an advisory lock.

The lock makes concurrent cold starts (or a deploy-time migration racing a Lambda) safe: the
second runner waits, then finds every file already recorded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from chalicelib.stores.db import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
LOCK_KEY = 7_246_311_901  # arbitrary constant shared by every runner of this service


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


def apply_migrations(db: Database) -> list[str]:
    """Applies pending migrations; returns the names applied now."""
    applied_now: list[str] = []
    with db.transaction() as tx:
        tx.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        tx.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY,
                   sha256 text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        tx.execute("SELECT name, sha256 FROM schema_migrations")
        done = {row["name"]: row["sha256"] for row in tx.fetchall()}
        for path in migration_files():
            sql = path.read_text()
            digest = hashlib.sha256(sql.encode()).hexdigest()
            if path.name in done:
                if done[path.name] != digest:
                    raise RuntimeError(f"migration {path.name} changed after it was applied; add a new file instead")
                continue
            tx.execute(sql)
            tx.execute("INSERT INTO schema_migrations (name, sha256) VALUES (%s, %s)", (path.name, digest))
            applied_now.append(path.name)
    # A migration may have created the vector extension: new connections register its type.
    db.reset()
    return applied_now
