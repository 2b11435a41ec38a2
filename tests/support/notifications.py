"""Notification tests' helpers: a recording webhook receiver that checks signatures the way
docs/operations.md tells receivers to, the outbox as rows, and deliverers built like the container does."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.egress import EgressGuard
from chalicelib.adapters.webhook import WebhookChannel, configured_key
from chalicelib.domain.notifications import PENDING, parse_webhook_url, webhook_egress_rules
from chalicelib.services.notifications import Channel, NotificationDelivery
from chalicelib.stores.db import Database
from tests.support.listeners import Network, Reply, Request
from tests.support.paths import ROOT

SECRET = "a-webhook-secret-of-32-characters"


def documented_verify() -> Callable[..., bool]:
    """The ``verify`` function of docs/operations.md, run as written (the receiver's check in these tests)."""
    text = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"<!-- verify-signature[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert block, "docs/operations.md lost its signature check"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "docs/operations.md", "exec"), namespace)  # our own documentation, as written
    return namespace["verify"]


@dataclass(frozen=True)
class Received:
    key: str | None
    event_type: str | None
    body: bytes
    signed: bool  # the documented check passed

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver (the ``app`` of tests.support.listeners.listening): records every request, answers
    ``status`` after ``delay`` seconds, and notes any key that was being handled twice at the same moment."""

    secret: str = SECRET
    status: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    overlapping: list[str] = field(default_factory=list)
    _in_flight: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _verify: Callable[..., bool] = field(default_factory=documented_verify)

    def __call__(self, request: Request) -> Reply:
        key = request.header("Idempotency-Key")
        with self._lock:
            self._in_flight[key or ""] += 1
            if self._in_flight[key or ""] > 1:
                self.overlapping.append(key or "")
        try:
            time.sleep(self.delay)
            signed = self._verify(self.secret.encode(), request.header("X-Catalog-Signature") or "", request.body)
            with self._lock:
                self.received.append(Received(key, request.header("X-Catalog-Event"), request.body, signed))
            return self.status, {}, b""
        finally:
            with self._lock:
                self._in_flight[key or ""] -= 1

    def keys(self) -> list[str | None]:
        with self._lock:
            return [item.key for item in self.received]


def outbox(db: Database) -> list[dict[str, Any]]:
    """Every recorded event with its deliveries, oldest first."""
    with db.reading() as cur:
        cur.execute(
            """SELECT n.event_id::text AS event_id, n.event_type, n.occurred_at, n.data,
                      jsonb_object_agg(d.channel, jsonb_build_object(
                          'status', d.status, 'attempts', d.attempts, 'error', d.last_error,
                          'due_in', extract(epoch FROM d.next_attempt_at - now()))) AS deliveries
               FROM notifications n JOIN notification_deliveries d USING (event_id)
               GROUP BY n.id ORDER BY n.id""")
        return [dict(row) for row in cur.fetchall()]


def due_now(db: Database) -> None:
    """Every pending delivery due at once: time passing, without waiting for it."""
    with db.transaction() as cur:
        cur.execute("UPDATE notification_deliveries SET next_attempt_at = now() WHERE status = %s", (PENDING,))


def webhook(url: str, secret: str = SECRET, private: Sequence[str] = (), net: Network | None = None,
            **options: Any) -> WebhookChannel:
    """The webhook channel as the container builds it (chalicelib/container.py); ``net``: the guard's resolver
    and dial seams (tests.support.listeners.Network), else the system's."""
    rules = webhook_egress_rules(tuple(private))
    guard = EgressGuard(rules, net.resolve, net.dial) if net is not None else EgressGuard(rules)
    return WebhookChannel(parse_webhook_url(url), configured_key(secret), guard, **options)


def deliverer(db: Database, *channels: Channel, **options: Any) -> NotificationDelivery:
    return NotificationDelivery(db, channels, **options)
