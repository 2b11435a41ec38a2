"""The HTTP side of the in-memory Kubernetes API server (tests/support/kube_emulator.py): the paths the
kubernetes client uses (``/api/v1/...`` for the core kinds, ``/apis/{group}/{version}/...`` for the others),
answers and refusals as the API server words them (``Status`` objects), chunked watch streams, and a
server that can go down (connections refused, open ones cut) and come back on the same port."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from tests.support.kube_emulator import KINDS, ApiError, Kind

if TYPE_CHECKING:
    from tests.support.kube_emulator import KubeEmulator

PATH = re.compile(r"^(?:/api/v1|/apis/(?P<group>[^/]+)/(?P<version>[^/]+))(?:/namespaces/(?P<ns>[^/]+))?"
                  r"/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status))?$")
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Route:
    kind: Kind
    namespace: str | None
    name: str | None
    subresource: str | None


def route(path: str) -> Route:
    match = PATH.match(path)
    kind = KINDS.get(match["plural"]) if match else None
    if match is None or kind is None or (match["group"] or "", match["version"] or "v1") != (kind.group, kind.version):
        raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
    return Route(kind, match["ns"], match["name"], match["sub"])


class KubeHttpServer:
    def __init__(self, emulator: KubeEmulator) -> None:
        self.emulator = emulator
        self.port = 0  # chosen at the first start, kept across outages
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="kube-emulator", daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        with self._lock:  # kept-alive and watching connections too: a server that is gone answers nothing
            for connection in self._connections:
                with contextlib.suppress(OSError):  # closed meanwhile
                    connection.shutdown(socket.SHUT_RDWR)

    def answer(self, method: str, path: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        url = urlparse(path)
        where = route(url.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        emulator, plural = self.emulator, where.kind.plural
        if method == "GET" and where.name is None:
            return 200, emulator.list(plural, where.namespace, query.get("labelSelector"))
        if where.namespace is None:
            raise ApiError(405, "MethodNotAllowed", "only namespaced objects are served here")
        if method == "GET" and where.name and not where.subresource:
            obj = emulator.get(where.namespace, where.name, plural)
            if obj is None:
                raise ApiError(404, "NotFound", f'{plural} "{where.name}" not found')
            return 200, obj
        if method == "POST" and where.name is None:
            self._create_fault(plural)
            return 201, emulator.create(plural, where.namespace, json.loads(body))
        if method == "PATCH" and where.name:
            if where.subresource == "status" and emulator.fail_status_patches:
                raise ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
            if content_type.split(";")[0].strip() != MERGE_PATCH:
                raise ApiError(415, "UnsupportedMediaType", f"only {MERGE_PATCH} is served here")
            return 200, emulator.patch(plural, where.namespace, where.name, json.loads(body), where.subresource)
        if method == "DELETE" and where.name and not where.subresource:
            emulator.delete(where.namespace, where.name, plural)
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}
        raise ApiError(405, "MethodNotAllowed", f"{method} is not served for {url.path}")

    def authorize(self, method: str, where: Route, watching: bool) -> None:
        """Raises 403 Forbidden, as RBAC does, when the emulator's ``authorize`` refuses the request."""
        emulator = self.emulator
        if emulator.authorize is None:
            return
        verbs = {"POST": "create", "PATCH": "patch", "DELETE": "delete"}
        verb = verbs.get(method) or ("watch" if watching else "list" if where.name is None else "get")
        resource = f"{where.kind.plural}/{where.subresource}" if where.subresource else where.kind.plural
        request = (verb, where.kind.group, resource, where.namespace)
        if not emulator.authorize(*request):
            emulator.forbidden.append(request)
            scope = f' in the namespace "{where.namespace}"' if where.namespace else " at the cluster scope"
            raise ApiError(403, "Forbidden", f'{where.kind.plural} is forbidden: cannot {verb} resource '
                                             f'"{resource}" in API group "{where.kind.group}"{scope}')

    def _create_fault(self, plural: str) -> None:
        emulator = self.emulator
        if plural in emulator.stalled_creates:
            while plural in emulator.stalled_creates and not emulator.closing:
                time.sleep(0.05)
            raise ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        if plural in emulator.failing_creates:
            raise ApiError(500, "InternalError", f"creating {plural} fails")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                super().finish()

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                server.emulator.requests.append((method, self.path))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = parse_qs(urlparse(self.path).query)
                try:
                    watching = method == "GET" and query.get("watch", [""])[-1].lower() == "true"
                    server.authorize(method, route(urlparse(self.path).path), watching)
                    if watching:
                        self._watch(route(urlparse(self.path).path), {k: v[-1] for k, v in query.items()})
                        return
                    code, answer = server.answer(method, self.path, body, self.headers.get("Content-Type", ""))
                except ApiError as exc:
                    code, answer = exc.code, exc.status()
                try:
                    self._json(code, answer)
                except OSError:  # the client is gone (e.g. killed while its request hung)
                    self.close_connection = True

            def _watch(self, where: Route, query: dict[str, str]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                events = server.emulator.watch(where.kind.plural, where.namespace,
                                               int(query.get("resourceVersion") or 0),
                                               float(query.get("timeoutSeconds") or 60),
                                               query.get("allowWatchBookmarks", "").lower() == "true",
                                               query.get("labelSelector"))
                try:
                    for event in events:
                        self._chunk((json.dumps(event) + "\n").encode())
                    self._chunk(b"")
                except OSError:  # the client went away (the watcher stopped or reconnected), or an outage
                    self.close_connection = True

            def _json(self, code: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler
