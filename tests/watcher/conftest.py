"""Fixtures shared by the watcher tests: the scripted or in-memory API server, a fake catalog, a watcher to run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
from pytest_httpserver import HTTPServer

from chalicelib.container import services
from chalicelib.stores.db import Database
from tests.support.fake_catalog import API_KEY, FakeCatalog
from tests.support.kube_emulator import KubeEmulator
from watcher.app import Watcher
from watcher.config import WatcherConfig


def _serve() -> Iterator[HTTPServer]:
    # Threaded: a watch stream stays open while the watcher's workers patch statuses.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def kube_server() -> Iterator[HTTPServer]:
    yield from _serve()


@pytest.fixture
def catalog_server() -> Iterator[HTTPServer]:
    yield from _serve()


@pytest.fixture
def kube() -> Iterator[tuple[KubeEmulator, str]]:
    """The in-memory Kubernetes API server and its URL."""
    emulator = KubeEmulator()
    with emulator.serving() as url:
        yield emulator, url


@pytest.fixture
def runner_catalog(catalog_server: HTTPServer) -> FakeCatalog:
    """The fake catalog with quick claims (a claim waits at most half a second) and 3-second leases."""
    fake = FakeCatalog()
    fake.post_failures = 0
    fake.executions.max_wait = 0.5
    fake.executions.lease_seconds = 3.0
    fake.serve(catalog_server)
    return fake


@pytest.fixture
def catalog_api(db: Database) -> Iterator[str]:
    """The real catalog API on a loopback port, as `python -m devserver` runs it (on the test database)."""
    from chalice.config import Config

    from app import app
    from devserver.local_server import LocalServer

    with LocalServer(app, Config.create(chalice_stage="local"), "127.0.0.1", 0).running() as server:
        yield server.url
        services().executions.stop_waiting()  # a killed watcher's claim must not lease the next test's executions


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "api-key"
    path.write_text(API_KEY + "\n")
    return path


@pytest.fixture
def start_watcher(key_file: Path) -> Iterator[Callable[..., Watcher]]:
    """Starts watchers against given API server / catalog URLs; stops them all at the end."""
    started: list[Watcher] = []

    def start(kube_url: str, catalog_url: str, namespace: str = "", resync_seconds: float = 300.0,
              watch_timeout: int = 5, runner: bool = False, **runner_settings: Any) -> Watcher:
        """``runner``: also run executions (off by default: the tests of the resources script every request), with
        long polls and no pause between claims unless the test says otherwise."""
        runner_settings = {"claim_wait_seconds": 20, "claim_interval_seconds": 0.0, **runner_settings}
        config = WatcherConfig(catalog_url=catalog_url, api_key_file=str(key_file), namespace=namespace,
                               resync_seconds=resync_seconds, health_port=0, runner_enabled=runner,
                               **runner_settings)
        api_client = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=kube_url))
        watcher = Watcher(config, api_client, watch_timeout=watch_timeout)
        watcher.start()
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        watcher.stop(grace_seconds=5)
