"""A real OCI registry on loopback (Debian's ``docker-registry``, distribution 2.8) and a pusher.

``start_registry()`` writes a config listening on 127.0.0.1:<free port> with in-memory storage,
starts ``docker-registry serve``, waits for ``GET /v2/`` and stops it (and deletes its folder) when
the block ends. ``basic_auth=True`` adds htpasswd auth (a bcrypt entry from ``htpasswd -Bbn``).
``RegistryPusher`` pushes the images built by ``devtools.oci`` over the registry HTTP API,
manifests as the exact bytes hashed. ``bash scripts/bootstrap.sh --registry`` installs both tools.

Loopback is not a public address: the catalog reaches such a registry only when its host is listed
in ``INSECURE_REGISTRIES`` (README, "Private registries and the egress rule").
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from devtools.oci import Blob, Image, Index

BASIC_USER = "robot"
BASIC_PASSWORD = "s3cret-pass"
INSTALL_HINT = "docker-registry is not installed: run `bash scripts/bootstrap.sh --registry`"


class RegistryNotInstalled(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registry_binary() -> str | None:
    return shutil.which("docker-registry")


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
        if response.headers["Docker-Content-Digest"] != manifest.digest:
            raise RuntimeError("the registry re-serialised the manifest (its digest changed)")
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


def _config(port: int, htpasswd: Path | None) -> str:
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
    """Runs ``docker-registry`` on a free loopback port for the duration of the block.

    Raises RegistryNotInstalled when the binary is missing.
    """
    binary = registry_binary()
    if binary is None:
        raise RegistryNotInstalled(INSTALL_HINT)
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
        config.write_text(_config(port, htpasswd))
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
