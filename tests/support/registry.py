"""Registry fixtures and misbehaving endpoints for the tests.

The registry itself (Debian's ``docker-registry`` on loopback, ``start_registry``, ``RegistryPusher``)
lives in devtools/registry.py, shared with the benchmarks and ``make demo``; the fixtures below
skip when it is not installed (and fail when ``CI`` is set: CI installs it).

Fixtures for any test package: ``from tests.support.registry import oci_registry`` in a conftest
(or list this module in ``pytest_plugins`` of the root conftest).

Loopback is not a public address, so the catalog reaches these registries only because they are
listed: the session fixtures add their host to ``INSECURE_REGISTRIES`` for the process-wide settings
(as a ``make run`` user lists a local registry), and tests that build a ``RegistryClient`` themselves
give it ``insecure(host, ...)``.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from chalicelib.adapters.registry import RegistryTransport
from chalicelib.domain.egress import EgressRules
from devtools.registry import INSTALL_HINT, LocalRegistry, free_port, registry_binary, start_registry
from devtools.registry import RegistryPusher as RegistryPusher  # the tests import it from here


def insecure(*hosts: str) -> RegistryTransport:
    """A registry transport that reaches these ``host:port`` over plain HTTP (INSECURE_REGISTRIES)."""
    return RegistryTransport(EgressRules.from_lists(insecure=hosts))


@contextmanager
def listed_for_the_process(host: str) -> Iterator[None]:
    """Adds ``host`` to INSECURE_REGISTRIES of the process-wide settings and services for the block."""
    from chalicelib.config import settings
    from chalicelib.container import reset_services

    previous = os.environ.get("INSECURE_REGISTRIES")
    os.environ["INSECURE_REGISTRIES"] = ",".join(filter(None, [previous, host]))
    settings.cache_clear()
    reset_services()  # rebuilt from the settings on next use
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("INSECURE_REGISTRIES", None)
        else:
            os.environ["INSECURE_REGISTRIES"] = previous
        settings.cache_clear()
        reset_services()


@contextmanager
def hanging_server() -> Iterator[str]:
    """A loopback TCP server that accepts connections and never answers; yields ``127.0.0.1:<port>``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in accepted:
            conn.close()
        server.close()


class GatedProxy:
    """A loopback TCP proxy to ``target`` (``host:port``) that holds every connection while closed.

    While the gate is closed a client connects and then waits, as with a registry that hangs mid-pull;
    once ``open()`` is called, waiting and new connections are forwarded. ``host`` is ``127.0.0.1:<port>``.
    """

    def __init__(self, target: str) -> None:
        self._target = target.rsplit(":", 1)
        self._gate = threading.Event()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def open(self) -> None:
        self._gate.set()

    def close(self) -> None:
        self._stop.set()
        self._gate.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        self._gate.wait()
        try:
            upstream = socket.create_connection((self._target[0], int(self._target[1])), timeout=10)
        except OSError:
            client.close()
            return
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def down_host() -> str:
    """``127.0.0.1:<port>`` where nothing listens (the port was free a moment ago)."""
    return f"127.0.0.1:{free_port()}"


def _skip_unless_installed() -> None:
    if registry_binary() is None:
        if os.environ.get("CI"):  # CI installs it (make test): missing there is a broken set-up, not a skip
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="session")
def oci_registry() -> Iterator[LocalRegistry]:
    """An anonymous registry shared by the session; use unique repository names per test."""
    _skip_unless_installed()
    with start_registry() as registry, listed_for_the_process(registry.host):
        yield registry


@pytest.fixture(scope="session")
def basic_auth_registry() -> Iterator[LocalRegistry]:
    """A registry that requires Basic auth (htpasswd); ``.auth`` holds the credentials."""
    _skip_unless_installed()
    with start_registry(basic_auth=True) as registry, listed_for_the_process(registry.host):
        yield registry
