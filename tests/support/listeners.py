"""Loopback HTTP(S) listeners that record every connection they accept, for the egress tests.

Loopback has all of 127.0.0.0/8, so 127.0.0.2, 127.0.0.3 ... stand in for other hosts (an internal
service, a CDN, a token service). A listener counts a connection at accept(), before reading a
byte, so ``accepted == []`` means the catalog never opened a socket to it.

``ScriptedRegistry`` plays the pull side of a registry (manifests and blobs of ``tests.support.oci``
images) with the hooks docker-registry cannot play: sending blobs or signature lookups to another
URL by redirect, and a token realm anywhere. ``BlobStore`` plays the CDN or object store blobs are
redirected to.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from urllib3.util.connection import create_connection

from tests.support import oci


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


Reply = tuple[int, dict[str, str], bytes]
App = Callable[[Request], Reply]


def not_found(_: Request) -> Reply:
    return 404, {"Content-Type": "application/json"}, b'{"errors": [{"code": "NOT_FOUND"}]}'


@dataclass
class Listener:
    ip: str
    port: int
    tls: bool
    accepted: list[tuple[str, int]] = field(default_factory=list)  # one peer per accepted connection
    requests: list[Request] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)  # SNI of each TLS handshake

    @property
    def host(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, record: Listener, app: App, tls: ssl.SSLContext | None) -> None:
        self.record = record
        self.app = app
        self.tls = tls
        super().__init__((record.ip, record.port), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, peer = super().get_request()
        self.record.accepted.append(peer)
        return sock, peer

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            request = self.tls.wrap_socket(request, server_side=True)  # in the handler thread
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused TLS handshakes are expected in some tests; the assertions look at the records


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer(Request("GET", self.path, dict(self.headers.items())))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(Request("POST", self.path, dict(self.headers.items()), body))

    def _answer(self, request: Request) -> None:
        self.server.record.requests.append(request)
        status, headers, body = self.server.app(request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def listening(
    ip: str = "127.0.0.1", app: App = not_found, tls: ssl.SSLContext | None = None, port: int = 0
) -> Iterator[Listener]:
    """An HTTP (or, with ``tls``, HTTPS) server on ``ip`` and ``port`` (0: a free one), recording what reaches it."""
    record = Listener(ip, port, tls is not None)
    if tls is not None:

        def note_server_name(_sock: Any, name: str | None, _context: Any) -> None:
            record.server_names.append(name)

        tls.sni_callback = note_server_name
    server = _Server(record, app, tls)
    record.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Network:
    """The resolver and dial seams: a DNS table for test names, public addresses routed to listeners."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}
        self.routes: dict[tuple[str, int], tuple[str, int]] = {}
        self.dialed: list[tuple[str, int]] = []

    def resolve(self, host: str, port: int) -> list[str]:
        if host in self.names:
            return self.names[host]
        return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]  # IP literals

    def dial(self, address: tuple[str, int], timeout, source_address, socket_options) -> socket.socket:
        self.dialed.append(address)
        return create_connection(self.routes.get(address, address), timeout, source_address, socket_options)

    def route(self, name: str, public: str, listener: Listener) -> None:
        """``name`` resolves to the public address ``public``, which reaches ``listener``."""
        self.names[name] = [public]
        self.routes[(public, listener.port)] = (listener.ip, listener.port)


def free_port_on(ip: str) -> int:
    """A port nothing listens on at ``ip`` (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


@dataclass
class ScriptedRegistry:
    """The pull API of a registry serving ``images`` by repository, with hooks for where it sends the client.

    - ``blob_redirect``: base URL; every blob request is answered ``307 -> <base>/<digest>``.
    - ``manifest_redirects``: tag -> URL; that manifest request is answered ``302 -> URL``.
    - ``token_realm``: every /v2/ request without ``Bearer good-token`` gets a Bearer challenge for it.
    - ``basic``: (user, password) every /v2/ request must carry as Basic auth.
    """

    images: dict[str, oci.Image] = field(default_factory=dict)
    blob_redirect: str | None = None
    manifest_redirects: dict[str, str] = field(default_factory=dict)
    token_realm: str | None = None
    basic: tuple[str, str] | None = None

    def __call__(self, request: Request) -> Reply:
        path = urlsplit(request.path).path
        if path == "/token":
            return 200, {"Content-Type": "application/json"}, json.dumps({"token": "good-token"}).encode()
        if self.token_realm and request.header("Authorization") != "Bearer good-token":
            challenge = f'Bearer realm="{self.token_realm}",service="scripted"'
            return 401, {"WWW-Authenticate": challenge}, b"{}"
        if self.basic and request.header("Authorization") != _basic(*self.basic):
            return 401, {"WWW-Authenticate": 'Basic realm="scripted"'}, b"{}"
        if not path.startswith("/v2/") or path.count("/") < 4:
            return not_found(request)
        repository, kind, reference = path[len("/v2/") :].rsplit("/", 2)
        image = self.images.get(repository)
        if kind == "manifests" and reference in self.manifest_redirects:
            return 302, {"Location": self.manifest_redirects[reference]}, b""
        if image is None:
            return not_found(request)
        if kind == "manifests" and reference in ("1.0.0", image.digest):
            headers = {"Content-Type": image.manifest.media_type, "Docker-Content-Digest": image.digest}
            return 200, headers, image.manifest.data
        if kind == "blobs" and any(blob.digest == reference for blob in image.blobs()):
            if self.blob_redirect:
                return 307, {"Location": f"{self.blob_redirect}/{reference}"}, b""
            blob = next(blob for blob in image.blobs() if blob.digest == reference)
            return 200, {"Content-Type": "application/octet-stream"}, blob.data
        return not_found(request)


@dataclass
class BlobStore:
    """A CDN or object store holding blobs at ``/<digest>`` (query strings ignored, as presigned URLs carry one)."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    def add(self, image: oci.Image) -> None:
        for blob in image.blobs():
            self.blobs[blob.digest] = blob.data

    def __call__(self, request: Request) -> Reply:
        data = self.blobs.get(urlsplit(request.path).path.rsplit("/", 1)[-1])
        if data is None:
            return not_found(request)
        return 200, {"Content-Type": "application/octet-stream"}, data


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
