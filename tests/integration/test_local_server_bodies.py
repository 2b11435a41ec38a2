"""How `make run`'s server reads request bodies, over a raw socket: chunked bodies are decoded (never read as a
second request), malformed or unsupported framing is a 400 problem, and a body shorter than its Content-Length is
a 400 problem once nothing more arrives for the body timeout (it used to hold the connection for 30 s)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.catalog import BASE, catalog_snapshot, workflow

BODY_TIMEOUT = 1.0


@pytest.fixture
def server(db: Any) -> Iterator[tuple[str, int]]:
    from chalice.config import Config

    from app import app
    from devserver.local_server import LocalServer

    local = LocalServer(app, Config.create(chalice_stage="local"), "127.0.0.1", 0, body_timeout=BODY_TIMEOUT)
    with local.running():
        yield local.host, local.port


class Connection:
    """One raw TCP connection: bytes out exactly as given, responses parsed one after the other."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=15)
        self.stream = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], Any]:
        status_line = self.stream.readline()
        assert status_line.startswith(b"HTTP/1."), status_line
        headers = {}
        while (line := self.stream.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.stream.read(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, json.loads(body) if body else None

    def closed_by_server(self) -> bool:
        return self.stream.read(1) == b""

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


def head(method: str, path: str, token: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", f"Authorization: Bearer {token}",
             "Content-Type: application/json", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(data: bytes, size: int) -> bytes:
    parts = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\nX-Trailer: t\r\n\r\n"


@pytest.fixture
def conn(server: tuple[str, int]) -> Iterator[Connection]:
    connection = Connection(server)
    yield connection
    connection.close()


def test_a_chunked_body_is_decoded_and_the_connection_serves_the_next_request(
    client: ApiClient, conn: Connection,
) -> None:
    token = client.token("admin")
    body = json.dumps(workflow()).encode()
    conn.send(head("POST", BASE, token, "Transfer-Encoding: chunked") + chunked(body, 100))
    status, _, created = conn.response()
    assert status == 201 and created["workflow_id"] == "oomkill-increase-memory", created
    # Was: the chunk lines were read as the next request. Now the next request on the connection is the real one.
    conn.send(head("GET", f"{BASE}/oomkill-increase-memory", token))
    status, _, read = conn.response()
    assert status == 200 and read["version"] == "1.0.0"


@pytest.mark.parametrize(("framing", "payload", "detail"), [
    ("Transfer-Encoding: chunked", b"zz\r\n{}\r\n0\r\n\r\n", "size in hex"),  # not a chunk size
    ("Transfer-Encoding: chunked", b"2\r\n{}}}\r\n0\r\n\r\n", "longer than its size"),
    ("Transfer-Encoding: gzip, chunked", b"0\r\n\r\n", "not supported"),
    ("Transfer-Encoding: chunked\r\nContent-Length: 5", b"0\r\n\r\n", "not both"),
    ("Content-Length: 5\r\nContent-Length: 6", b"{}   ", "one decimal number"),
    ("Content-Length: -2", b"{}", "one decimal number"),
])
def test_malformed_or_unsupported_framing_is_a_400_problem_and_closes(
    client: ApiClient, db: Any, conn: Connection, framing: str, payload: bytes, detail: str,
) -> None:
    before = catalog_snapshot(db)
    conn.send(head("POST", BASE, client.token("admin"), framing) + payload
              + head("GET", BASE, client.token("admin")))  # what follows must never be served from the leftovers
    status, headers, problem = conn.response()
    assert (status, headers["content-type"]) == (400, "application/problem+json"), problem
    assert problem["type"].endswith("/validation-error") and detail in problem["detail"]
    assert headers["connection"] == "close" and conn.closed_by_server()
    assert catalog_snapshot(db) == before


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_that_stops_arriving_is_a_400_within_the_body_timeout(
    client: ApiClient, db: Any, conn: Connection, framing: str,
) -> None:
    before = catalog_snapshot(db)
    body = json.dumps(workflow()).encode()
    if framing == "content-length":
        message = head("POST", BASE, client.token("admin"), f"Content-Length: {len(body)}") + body[:40]
    else:
        message = head("POST", BASE, client.token("admin"), "Transfer-Encoding: chunked") + b"%x\r\n" % len(body) \
            + body[:40]
    started = time.monotonic()
    conn.send(message)  # ... and nothing more, the connection left open
    status, _, problem = conn.response()
    waited = time.monotonic() - started
    assert status == 400 and problem["type"].endswith("/validation-error"), problem
    assert "40 of the" in problem["detail"] and f"{BODY_TIMEOUT:g} s" in problem["detail"]
    assert BODY_TIMEOUT * 0.9 <= waited < BODY_TIMEOUT + 2, waited  # was: 30 s, the keep-alive time
    assert conn.closed_by_server()
    assert catalog_snapshot(db) == before


def test_a_body_cut_short_by_the_client_closing_is_a_400_at_once(client: ApiClient, conn: Connection) -> None:
    conn.send(head("POST", BASE, client.token("admin"), "Content-Length: 500") + b'{"workflow_id": ')
    started = time.monotonic()
    conn.sock.shutdown(socket.SHUT_WR)  # the client is done sending, still reading
    status, _, problem = conn.response()
    assert status == 400 and "16 of the 500 bytes" in problem["detail"]
    assert time.monotonic() - started < BODY_TIMEOUT
