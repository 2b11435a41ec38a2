"""Fixtures for the alert intake and the effectiveness judgement: the catalog served by the real local server on the
test database, API key files as an operator mounts them for Alertmanager, and real Alertmanagers sending to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.container import services
from tests.support.alertmanager import LocalAlertmanager, require_alertmanager, start_alertmanager
from tests.support.alerts import PATH
from tests.support.server import CatalogProcess


@pytest.fixture(scope="module")
def catalog_server(database_url: str) -> Iterator[CatalogProcess]:
    """`make run`'s server as a process, on the session's test database (tests read its rows directly;
    each test's ``db`` fixture empties the catalog first)."""
    with CatalogProcess(env={"DATABASE_URL": database_url, "POWERTOOLS_METRICS_DISABLED": "true"}) as server:
        yield server


@pytest.fixture
def key_file(db: Any, tmp_path: Path) -> Callable[..., Path]:
    """A file holding a new API key with these scopes (as an operator mounts it for Alertmanager)."""

    def write(*scopes: str) -> Path:
        _, token = services().api_keys.create("alertmanager", list(scopes))
        path = tmp_path / f"catalog-key-{'-'.join(scopes).replace(':', '_')}"
        path.write_text(token + "\n")  # Alertmanager trims the trailing newline a file usually has
        return path

    return write


@pytest.fixture
def alertmanager_for(catalog_server: CatalogProcess, key_file: Callable[..., Path]
                     ) -> Iterator[Callable[..., LocalAlertmanager]]:
    """Starts an Alertmanager whose webhook goes to ``url`` (the catalog's by default) with a key of ``scopes``."""
    require_alertmanager()
    running: list[Any] = []

    def start(*scopes: str, url: str | None = None, receiver: str = "catalog") -> LocalAlertmanager:
        manager = start_alertmanager(url or catalog_server.url + PATH, key_file(*scopes), receiver)
        running.append(manager)
        return manager.__enter__()

    yield start
    for manager in reversed(running):
        manager.__exit__(None, None, None)
