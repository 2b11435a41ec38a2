"""Fixtures for the alert intake: the catalog served by the real local server on the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import CatalogProcess


@pytest.fixture(scope="module")
def catalog_server(database_url: str) -> Iterator[CatalogProcess]:
    """`make run`'s server as a process, on the session's test database (tests read its rows directly;
    each test's ``db`` fixture empties the catalog first)."""
    with CatalogProcess(env={"DATABASE_URL": database_url, "POWERTOOLS_METRICS_DISABLED": "true"}) as server:
        yield server
