"""The local HTTP server of ``make run``: Chalice's local API Gateway emulation, served as a real server.

Development only (never deployed). It builds on Chalice's ``chalice.local`` pieces, which emulate API
Gateway (routing, the built-in authorizer, the Lambda event), and adds what a server used by
several clients at once needs:

- Isolation: each connection is served on its own thread, and the app keeps the request being
  handled per thread (chalicelib/http/application.py), so no request sees another's request,
  authorizer context or body. Database work is bounded by the connection pool (a request waits for
  a connection, then answers 503 + Retry-After), so concurrency needs no global lock.
- Bounded queueing instead of resets: a listen backlog sized for bursts, and beyond
  ``max_connections`` open connections a new one is answered 503 + Retry-After (and closed)
  instead of waiting unboundedly or being reset. Idle keep-alive connections close after
  ``KEEP_ALIVE_SECONDS``.
- Bodies are read whole before the app runs: by Content-Length, or decoded from chunked transfer coding;
  one that is malformed, over the limit, or stops arriving for ``BODY_TIMEOUT_SECONDS`` is answered with
  a problem (400, 413) and the connection closed, so no part of a body is ever read as a next request.
- One JSON log line per request, including the answers given before any handler runs (no API key,
  unknown route, body too large, malformed HTTP), no plain-text access log, and ``X-Correlation-Id``
  on every response. The request's arrival time goes into the Lambda event as API Gateway's
  ``requestTimeEpoch``, so ``latency_ms`` covers the key check too.

Chalice binds ``do_GET``/``do_POST``/... to its base class's ``_generic_handle`` at class
creation, so overriding that method alone changes nothing: the handler below rebinds them.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalGateway, LocalGatewayException

from chalicelib.http.middleware import log_request
from chalicelib.http.problems import problem_headers, problem_text, status_problem
from chalicelib.observability import CORRELATION_HEADER, bind, clear_bound, correlation_id_from
from devserver.gateway import GATEWAY_MAX_BODY, gateway_problem

LISTEN_BACKLOG = 1024
MAX_CONNECTIONS = 512
KEEP_ALIVE_SECONDS = 30.0
# A body that stops arriving (shorter than its Content-Length, a chunk cut off) is answered 400 after this much
# silence, instead of holding the connection for the keep-alive time.
BODY_TIMEOUT_SECONDS = 5.0
MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions, or one trailer field
MAX_TRAILER_LINES = 32
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
BUSY_RETRY_AFTER = 1


class _TimedGateway(LocalGateway):
    """Chalice's API Gateway emulation, stamping the request's arrival time into the event."""

    received_at = 0.0  # epoch seconds, set by the handler before each request

    def _generate_lambda_event(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        event = super()._generate_lambda_event(method, path, headers, body)
        event["requestContext"]["requestTimeEpoch"] = self.received_at * 1000
        return event


class BodyRefused(Exception):
    """A request body the server will not read as a body (malformed, too large, incomplete): answered with a problem
    and the connection closed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class LocalRequestHandler(ChaliceRequestHandler):
    timeout = KEEP_ALIVE_SECONDS  # idle keep-alive connections are closed after this
    # Headers and body go out in separate writes; with Nagle's algorithm and the client's delayed ACK
    # every keep-alive answer would wait ~40 ms.
    disable_nagle_algorithm = True

    def __init__(
        self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config, busy: bool = False,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
    ) -> None:
        self.busy = busy
        self.body_timeout = body_timeout
        self.timed_gateway = _TimedGateway(app_object, config)
        self.local_gateway = self.timed_gateway
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _generic_handle(self) -> None:
        received = time.time()
        correlation_id = correlation_id_from(self.headers.get(CORRELATION_HEADER))
        # The app uses (and echoes) this id, so the gateway's own answers and the app's carry the same one.
        del self.headers[CORRELATION_HEADER]
        self.headers[CORRELATION_HEADER] = correlation_id
        if self.busy:
            self.close_connection = True
            detail = "The local server has too many open connections; try again shortly."
            self._answer_problem(503, detail, received, correlation_id, problem_headers(503, BUSY_RETRY_AFTER))
            return
        try:
            body = self._read_body()
        except BodyRefused as refused:
            # What is left of the body on the connection cannot be told from a next request: close it.
            self.close_connection = True
            headers = {**problem_headers(refused.status), "Connection": "close"}
            self._answer_problem(refused.status, refused.detail, received, correlation_id, headers)
            return
        headers = dict(self.headers)
        self.timed_gateway.received_at = received
        try:
            response = self.local_gateway.handle_request(
                method=self.command, path=self.path, headers=headers, body=body
            )
        except LocalGatewayException as error:
            # API Gateway's own answers (no Authorization header, unknown route), as Gateway Responses.
            status, error_headers, error_body = gateway_problem(error)
            self._log(status, received, correlation_id, error_body)
            self._send_http_response(status, {**error_headers, CORRELATION_HEADER: correlation_id}, error_body)
            return
        response_headers = {**response["headers"], **response["multiValueHeaders"]}
        response_headers.setdefault(CORRELATION_HEADER, correlation_id)
        response = self._handle_binary(response)
        self._send_http_response(response["statusCode"], response_headers, response["body"])

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _read_body(self) -> bytes | None:
        """The request body, by Content-Length or decoded from chunked transfer coding (then passed on with its
        Content-Length, as API Gateway does); BodyRefused when it is malformed, too large, or does not arrive whole
        within ``body_timeout`` seconds of silence. Never leaves part of a body to be read as the next request."""
        encodings = [part.strip().lower() for value in self.headers.get_all("Transfer-Encoding") or []
                     for part in value.split(",") if part.strip()]
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if encodings:
            if lengths:
                raise BodyRefused(400, "A request carries Transfer-Encoding or Content-Length, not both.")
            if encodings != ["chunked"]:
                raise BodyRefused(400, f"Transfer-Encoding {', '.join(encodings)[:100]} is not supported: send the "
                                       "body with Content-Length, or chunked.")
            body = self._read_chunked()
            del self.headers["Transfer-Encoding"]
            self.headers["Content-Length"] = str(len(body))
            return body or None
        if len(lengths) > 1 or not all(value.isdigit() for value in lengths):
            raise BodyRefused(400, "Content-Length must be one decimal number of bytes.")
        length = int(lengths.pop()) if lengths else 0
        if length > GATEWAY_MAX_BODY:
            raise BodyRefused(413, f"Bodies over {GATEWAY_MAX_BODY} bytes are refused.")
        return self._read_exactly(length, "Content-Length") if length else None

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_field = self._read_line("chunk size").split(b";", 1)[0].strip()  # chunk extensions are ignored
            if not size_field or len(size_field) > 8 or not all(c in HEX_DIGITS for c in size_field):
                raise BodyRefused(400, "The chunked body is malformed: a chunk must start with its size in hex.")
            size = int(size_field, 16)
            if len(body) + size > GATEWAY_MAX_BODY:
                raise BodyRefused(413, f"Bodies over {GATEWAY_MAX_BODY} bytes are refused.")
            if size == 0:
                break
            body += self._read_exactly(size, "chunk size")
            if self._read_line("chunk end") not in (b"\r\n", b"\n"):
                raise BodyRefused(400, "The chunked body is malformed: a chunk is longer than its size says.")
        for _ in range(MAX_TRAILER_LINES):  # trailer fields, up to the empty line that ends the body
            if self._read_line("trailer") in (b"\r\n", b"\n"):
                return bytes(body)
        raise BodyRefused(400, f"The chunked body has more than {MAX_TRAILER_LINES} trailer lines.")

    def _read_exactly(self, length: int, declared: str) -> bytes:
        data = bytearray()
        with self._body_timeout():
            while len(data) < length:
                try:
                    part = self.rfile.read1(length - len(data))
                except TimeoutError:
                    part = b""
                if not part:
                    raise BodyRefused(400, f"The body ended after {len(data)} of the {length} bytes its {declared} "
                                           f"announced (nothing more arrived within {self.body_timeout:g} s).")
                data += part
        return bytes(data)

    def _read_line(self, what: str) -> bytes:
        with self._body_timeout():
            try:
                line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            except TimeoutError:
                line = b""
        if not line.endswith(b"\n"):
            problem = "is too long" if len(line) > MAX_CHUNK_LINE else "did not arrive whole"
            raise BodyRefused(400, f"The chunked body is malformed: a {what} line {problem} (within "
                                   f"{self.body_timeout:g} s).")
        return line

    @contextmanager
    def _body_timeout(self) -> Iterator[None]:
        """Reads of the body wait at most ``body_timeout`` for more bytes (idle keep-alive waits stay longer)."""
        self.connection.settimeout(self.body_timeout)
        try:
            yield
        finally:
            self.connection.settimeout(self.timeout)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (URI too long, too many headers, a method no route has) as
        problems instead of its HTML page; API Gateway answers those with Gateway Responses too."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            # TRACE, CONNECT or an invented method: routed like any other, so the route answers 405 with the
            # methods it has in Allow (or 404 when there is no such route), as for a PUT on a GET-only route.
            self._generic_handle()
            return
        received = time.time()
        code = int(code)
        detail = (message or self.responses.get(code, ("", "The request could not be processed."))[1])[:500]
        self.close_connection = True
        headers = {**problem_headers(code), "Connection": "close"}
        self._answer_problem(code, detail, received, correlation_id_from(None), headers)

    def _answer_problem(
        self, status: int, detail: str, received: float, correlation_id: str, headers: dict[str, Any]
    ) -> None:
        body = problem_text(status_problem(status, detail)).encode()
        self._log(status, received, correlation_id, body)
        send_body = body if self.command != "HEAD" else None
        self._send_http_response(status, {**headers, CORRELATION_HEADER: correlation_id}, send_body)

    def _log(self, status: int, received: float, correlation_id: str, body: bytes) -> None:
        """The request line for an answer given before the app ran (the app's own are logged by the middleware)."""
        bind(correlation_id=correlation_id)
        try:
            log_request(
                method=(self.command or "")[:32],
                route=None,
                path=(getattr(self, "path", "") or "").split("?", 1)[0][:1024],
                status=status,
                started=received,
                principal=None,
                body=body,
            )
        finally:
            clear_bound()

    def log_message(self, format: str, *args: Any) -> None:
        """No plain-text access log: every request has its JSON line already."""


class _ThreadingServer(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], app: Chalice, config: Config, max_connections: int,
                 body_timeout: float) -> None:
        self._handler = functools.partial(LocalRequestHandler, app_object=app, config=config,
                                          body_timeout=body_timeout)
        self._busy_handler = functools.partial(LocalRequestHandler, app_object=app, config=config, busy=True)
        self._open = threading.BoundedSemaphore(max_connections)
        super().__init__(address, self._handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._open.acquire(blocking=False):
            thread = threading.Thread(target=self._serve, args=(request, client_address, self._handler, True))
        else:  # still answered (503), on a short-lived thread that never touches the app or the database
            thread = threading.Thread(target=self._serve, args=(request, client_address, self._busy_handler, False))
        thread.daemon = True
        thread.start()

    def _serve(self, request: Any, client_address: Any, handler: Any, counted: bool) -> None:
        try:
            handler(request, client_address, self)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            if counted:
                self._open.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request is not worth a traceback on stderr."""


class LocalServer:
    """``make run``'s server on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self, app: Chalice, config: Config, host: str, port: int, max_connections: int = MAX_CONNECTIONS,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
    ) -> None:
        self._server = _ThreadingServer((host, port), app, config, max_connections, body_timeout)
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        """Stops serving (call from another thread than serve_forever) and closes the socket."""
        self._server.shutdown()
        self._server.server_close()

    @contextmanager
    def running(self) -> Iterator[LocalServer]:
        """Serves on a background thread for the duration of the block (tests, benchmarks, the demo)."""
        thread = threading.Thread(target=self.serve_forever, name="local-server", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.shutdown()
            thread.join(timeout=10)

