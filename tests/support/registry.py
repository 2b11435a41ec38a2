"""A real OCI registry on loopback for the tests (Debian's ``docker-registry``, distribution 2.8).

``start_registry()`` writes a config listening on 127.0.0.1:<free port> with in-memory storage,
starts ``docker-registry serve``, waits for ``GET /v2/`` and stops it on exit. ``basic_auth=True``
adds htpasswd auth (a bcrypt entry from ``htpasswd -Bbn``). ``RegistryPusher`` pushes the images
built by ``tests.support.oci`` over the registry HTTP API, manifests as the exact bytes hashed.

Fixtures for any test package: ``from tests.support.registry import oci_registry`` in a conftest
(or list this module in ``pytest_plugins`` of the root conftest).

Loopback is not a public address, so the catalog reaches these registries only because they are
listed: the session fixtures add their host to ``INSECURE_REGISTRIES`` for the process-wide settings
(as a ``make run`` user lists a local registry), and tests that build a ``RegistryClient`` themselves
give it ``insecure(host, ...)``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from chalicelib.adapters.registry import RegistryTransport
from chalicelib.domain.egress import EgressRules
from tests.support.oci import Blob, Image, Index

BASIC_USER = "robot"
BASIC_PASSWORD = "s3cret-pass"


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RegistryPusher:
    """Pushes blobs, images and indexes to one registry over its HTTP API."""

    base_url: str
    auth: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.auth = self.auth

    def push_blob(self, repository: str, blob: Blob) -> None:
        head = self.session.head(f"{self.base_url}/v2/{repository}/blobs/{blob.digest}", timeout=10)
        if head.status_code == 200:
            return
        start = self.session.post(f"{self.base_url}/v2/{repository}/blobs/uploads/", timeout=10)
        start.raise_for_status()
        location = start.headers["Location"]
        if location.startswith("/"):
            location = self.base_url + location
        separator = "&" if "?" in location else "?"
        done = self.session.put(
            f"{location}{separator}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        done.raise_for_status()

    def push_manifest(self, repository: str, reference: str, manifest: Blob) -> str:
        response = self.session.put(
            f"{self.base_url}/v2/{repository}/manifests/{reference}",
            data=manifest.data,
            headers={"Content-Type": manifest.media_type},
            timeout=10,
        )
        response.raise_for_status()
        assert response.headers["Docker-Content-Digest"] == manifest.digest, "registry re-serialised the manifest"
        return manifest.digest

    def push_image(self, repository: str, tag: str, image: Image) -> str:
        """Pushes the blobs then the manifest; returns the manifest digest."""
        for blob in image.blobs():
            self.push_blob(repository, blob)
        return self.push_manifest(repository, tag, image.manifest)

    def push_index(self, repository: str, tag: str, index: Index) -> str:
        for item in index.images:
            for blob in item.blobs():
                self.push_blob(repository, blob)
            self.push_manifest(repository, item.digest, item.manifest)
        return self.push_manifest(repository, tag, index.manifest)


@dataclass
class LocalRegistry:
    base_url: str  # http://127.0.0.1:<port>
    host: str  # 127.0.0.1:<port>, the registry part of image references
    auth: tuple[str, str] | None
    pusher: RegistryPusher

    def reference(self, repository: str, tag: str = "latest") -> str:
        return f"{self.host}/{repository}:{tag}"


def _config(root: Path, port: int, htpasswd: Path | None) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  inmemory: {}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
    ]
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: test-registry", f"    path: {htpasswd}"]
    return "\n".join(lines) + "\n"


@contextmanager
def start_registry(basic_auth: bool = False, startup_timeout: float = 10.0) -> Iterator[LocalRegistry]:
    """Runs ``docker-registry`` on a free loopback port for the duration of the block."""
    binary = shutil.which("docker-registry")
    if binary is None:
        message = "docker-registry is not installed: run `bash scripts/bootstrap.sh --registry`"
        if os.environ.get("CI"):  # CI installs it (make test): missing there is a broken set-up, not a skip
            pytest.fail(message)
        pytest.skip(message)
    with tempfile.TemporaryDirectory(prefix="registry-") as tmp:
        root = Path(tmp)
        htpasswd = None
        auth = None
        if basic_auth:
            entry = subprocess.run(
                ["htpasswd", "-Bbn", BASIC_USER, BASIC_PASSWORD], check=True, capture_output=True, text=True
            ).stdout
            htpasswd = root / "htpasswd"
            htpasswd.write_text(entry)
            auth = (BASIC_USER, BASIC_PASSWORD)
        port = free_port()
        config = root / "config.yml"
        config.write_text(_config(root, port, htpasswd))
        log = (root / "registry.log").open("wb")
        process = subprocess.Popen(
            [binary, "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OTEL_SDK_DISABLED": "true"},
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(base_url, auth, process, startup_timeout, root / "registry.log")
            yield LocalRegistry(base_url, f"127.0.0.1:{port}", auth, RegistryPusher(base_url, auth))
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _wait_ready(
    base_url: str, auth: tuple[str, str] | None, process: subprocess.Popen, timeout: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{base_url}/v2/", auth=auth, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"docker-registry did not answer GET /v2/ within {timeout}s")


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


@pytest.fixture(scope="session")
def oci_registry() -> Iterator[LocalRegistry]:
    """An anonymous registry shared by the session; use unique repository names per test."""
    with start_registry() as registry, listed_for_the_process(registry.host):
        yield registry


@pytest.fixture(scope="session")
def basic_auth_registry() -> Iterator[LocalRegistry]:
    """A registry that requires Basic auth (htpasswd); ``.auth`` holds the credentials."""
    with start_registry(basic_auth=True) as registry, listed_for_the_process(registry.host):
        yield registry
