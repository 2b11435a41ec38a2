"""Registration tests' helpers: waiting for the in-process jobs, and the catalog as rows to compare."""

from __future__ import annotations

from chalicelib.container import services
from chalicelib.stores.db import Database

# Registration bookkeeping and credentials are not catalog content.
NOT_CATALOG = ("registrations", "api_keys", "schema_migrations")


def catalog_dump(db: Database) -> dict[str, list[str]]:
    """Every row of every catalog table, as text, in a stable order."""
    with db.reading() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row["tablename"] for row in cur.fetchall() if row["tablename"] not in NOT_CATALOG]
        dump = {}
        for table in tables:
            cur.execute(f"SELECT to_jsonb(t)::text AS row FROM {table} t ORDER BY 1")
            dump[table] = [row["row"] for row in cur.fetchall()]
    return dump


def wait_for_jobs() -> None:
    services().dispatcher.wait_idle(timeout=30)  # type: ignore[attr-defined]
