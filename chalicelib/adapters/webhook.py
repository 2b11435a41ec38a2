"""The notification webhook: a signed POST of each event to NOTIFY_WEBHOOK_URL, under the egress rule.

Each attempt POSTs the event's JSON with ``X-Catalog-Signature`` (chalicelib/domain/notifications.py,
``sign``; signed at send time, so the timestamp is the attempt's), ``Idempotency-Key`` (the event id)
and ``X-Catalog-Event`` (its type). Any 2xx is delivered; anything else, a redirect included (never
followed: the destination is the configured one or none), is a failed attempt the caller retries.

The connection is opened by the shared egress guard (chalicelib/adapters/egress.py): the name is
resolved once, a non-public address is refused unless the destination is listed in
NOTIFY_PRIVATE_DESTINATIONS, plain HTTP goes only to a listed destination, and a refused destination
is never contacted. No proxy from the environment is used, for the same reason as registry traffic.

Bounded in time whatever the receiver does: ``connect_timeout`` for the connection, then a watchdog
shuts the socket down once ``deadline`` seconds have passed since the attempt began (a receiver that
accepts and never answers, or trickles its answer a byte at a time, costs at most that).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from chalicelib.adapters.aws.secrets import SecretError, secret_json
from chalicelib.adapters.egress import EgressGuard, EgressRefused
from chalicelib.domain.notifications import (
    EVENT_TYPE_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    WEBHOOK,
    DeliveryFailed,
    OutboxEvent,
    WebhookUrl,
    sign,
)

CONNECT_TIMEOUT_SECONDS = 3.0
DEADLINE_SECONDS = 10.0
USER_AGENT = "workflow-catalog-notifier/1"
SECRET_KEY = "webhook_secret"  # the member of NOTIFY_WEBHOOK_SECRET_ARN's JSON that holds the key

SigningKey = Callable[[], bytes]


def configured_key(value: str) -> SigningKey:
    """NOTIFY_WEBHOOK_SECRET as the signing key."""
    key = value.encode()
    return lambda: key


def secrets_manager_key(secret_arn: str, region: str | None) -> SigningKey:
    """The ``webhook_secret`` member of a Secrets Manager secret, read through the service's secret cache
    (a rotated key is picked up within its cache time). DeliveryFailed when it cannot be read."""

    def key() -> bytes:
        try:
            value = secret_json(secret_arn, region).get(SECRET_KEY)
        except SecretError as exc:
            raise DeliveryFailed(f"the signing key cannot be read: {exc}") from None
        if not isinstance(value, str) or not value:
            raise DeliveryFailed(f"secret {secret_arn} has no {SECRET_KEY!r} text member")
        return value.encode()

    return key


class WebhookChannel:
    name: str = WEBHOOK

    def __init__(
        self,
        url: WebhookUrl,
        key: SigningKey,
        guard: EgressGuard,
        tls: ssl.SSLContext | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        deadline: float = DEADLINE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._key = key
        self._guard = guard
        self._tls = tls or ssl.create_default_context()  # the system's CAs; built once (it reads them from disk)
        self._connect_timeout = connect_timeout
        self._deadline = deadline
        self._clock = clock

    def send(self, event: OutboxEvent) -> None:
        body = event.body()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(self._key(), int(self._clock()), body),
            IDEMPOTENCY_HEADER: event.event_id,
            EVENT_TYPE_HEADER: event.event_type,
        }
        watchdog = _Watchdog(self._deadline)
        connection = self._connection(watchdog)
        try:
            connection.request("POST", self._url.target, body=body, headers=headers)
            response = connection.getresponse()
            status = response.status
        except EgressRefused:
            raise DeliveryFailed(self._refusal()) from None
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            if watchdog.fired:
                raise DeliveryFailed(self._too_slow()) from None
            raise DeliveryFailed(f"{self._url.destination}: {type(exc).__name__}: {exc}"[:300]) from None
        finally:
            watchdog.cancel()
            connection.close()
        if watchdog.fired:  # an answer cut off at the deadline may look whole (headers end at end of stream)
            raise DeliveryFailed(self._too_slow())
        if not 200 <= status < 300:
            raise DeliveryFailed(f"{self._url.destination} answered {status}")

    def _connection(self, watchdog: _Watchdog) -> http.client.HTTPConnection:
        """A connection whose socket the guard opens, handed to the watchdog as soon as it exists."""
        guard, scheme, port = self._guard, self._url.scheme, self._url.port
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(self._url.host, port, timeout=self._connect_timeout,
                                                     context=self._tls)
        else:
            connection = http.client.HTTPConnection(self._url.host, port, timeout=self._connect_timeout)

        def create_connection(address: tuple[str, int], timeout: Any, source_address: Any = None) -> socket.socket:
            sock = guard.connect(scheme, address[0], address[1], timeout, source_address, None)
            watchdog.watch(sock)
            # Past the connect, every read and write waits at most until the deadline (the watchdog ends it).
            sock.settimeout(self._deadline)
            return sock

        connection._create_connection = create_connection  # type: ignore[attr-defined]  # http.client's seam
        return connection

    def _too_slow(self) -> str:
        return f"{self._url.destination} did not answer within {self._deadline:g} s"

    def _refusal(self) -> str:
        where = self._url.destination
        if self._url.scheme != "https":
            return f"{where} is not allowed: plain HTTP goes only to destinations listed in NOTIFY_PRIVATE_DESTINATIONS"
        return (f"{where} is not allowed: the catalog connects only to public addresses unless the destination "
                "is listed in NOTIFY_PRIVATE_DESTINATIONS")


class _Watchdog:
    """Shuts the attempt's socket down when the deadline passes, ending any read or write on it."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._sock is not None:
                _shut(self._sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)
