"""Notifications: record an event in the outbox inside the transaction that causes it, and deliver the
outbox at least once to each configured channel (README, "Notifications").

Other code records with ``record(tx, notification)``, building the notification with a function of
chalicelib/domain/notifications.py (``execution_event``, ``circuit_opened``): the event commits or rolls
back with the caller's change, so nobody hears of an action that did not happen, and nothing that
happened goes untold.

``NotificationDelivery.deliver_due`` runs in the maintenance loop (``make run``'s thread, the scheduled
``maintenance`` function in AWS). Per channel it claims one due delivery at a time with a lease
(FOR UPDATE SKIP LOCKED, so concurrent deliverers never hold the same one), sends it outside any
transaction, and records the outcome; a failure schedules the next attempt (growing delays with
jitter, for up to a day) and ends the channel's turn for this round, so a receiver that is down or
hangs costs one send deadline per round, not one per event. Each channel's turn also ends once it has
spent its share of ``budget_seconds``; what is left is due in the next round.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib import metrics
from chalicelib.domain.notifications import (
    ABANDONED,
    CHANNELS,
    DELIVERED,
    KEEP_SECONDS,
    DeliveryFailed,
    Notification,
    OutboxEvent,
    next_attempt_in,
)
from chalicelib.observability import log_ids, logger
from chalicelib.stores import notification_store as store
from chalicelib.stores.db import Database, UnitOfWork
from chalicelib.stores.notification_store import Claim

# A claimed delivery is due again after this long if its deliverer never reports (it died): well above
# any channel's send deadline, so a live deliverer's send never overlaps another's.
LEASE_SECONDS = 60.0
ROUND_BUDGET_SECONDS = 20.0  # the scheduled maintenance function has 60 s in all
PURGE_BATCH = 1000


def record(tx: UnitOfWork, *notifications: Notification) -> None:
    """Writes the events to the outbox in ``tx``, the transaction of the change they report.

    The one way to raise a notification: e.g. the guards record the opening of a circuit breaker with
    ``record(tx, circuit_opened(workflow_id=..., reason=..., failed=..., finished=..., actor=...))``.
    """
    store.insert(tx, notifications, CHANNELS)


class Channel(Protocol):
    """Port: one way events leave the catalog (chalicelib/adapters/webhook.py, chalicelib/adapters/aws/sns.py)."""

    name: str  # one of chalicelib.domain.notifications.CHANNELS

    def send(self, event: OutboxEvent) -> None:
        """Delivers the event or raises DeliveryFailed; returns within the channel's deadline."""
        ...


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    abandoned: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retried": self.retried, "abandoned": self.abandoned}


class NotificationDelivery:
    def __init__(
        self,
        db: Database,
        channels: Sequence[Channel],
        budget_seconds: float = ROUND_BUDGET_SECONDS,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._channels = tuple(channels)
        self._budget = budget_seconds
        self._jitter = jitter
        self._clock = clock

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(channel.name for channel in self._channels)

    def deliver_due(self) -> DeliveryReport:
        """One round: the due deliveries of every configured channel, until each is done, fails once, or
        spends its share of the round's budget (so a backlog on one channel never starves the other)."""
        report = DeliveryReport()
        share = self._budget / max(len(self._channels), 1)
        for channel in self._channels:
            deadline = self._clock() + share
            while self._clock() < deadline:
                with self._db.transaction() as tx:
                    claim = store.claim(tx, channel.name, LEASE_SECONDS)
                if claim is None or not self._attempt(channel, claim, report):
                    break
        return report

    def purge(self) -> int:
        """Deletes events older than the keeping time (KEEP_SECONDS), a batch per call."""
        with self._db.transaction() as tx:
            return store.purge(tx, KEEP_SECONDS, PURGE_BATCH)

    def _attempt(self, channel: Channel, claim: Claim, report: DeliveryReport) -> bool:
        """Sends one claimed delivery and records the outcome; True when it was delivered."""
        event = claim.event
        ids = log_ids(event.data, event_id=event.event_id, event_type=event.event_type, channel=channel.name,
                      attempt=claim.attempt)
        started = self._clock()
        try:
            channel.send(event)
        except DeliveryFailed as exc:
            error = str(exc)
        except Exception as exc:  # a bug or an unforeseen client error must not stop the maintenance loop
            logger.exception("notification channel failed unexpectedly", extra=ids)
            error = f"unexpected {type(exc).__name__}"
        else:
            with self._db.transaction() as tx:
                store.finish(tx, claim, DELIVERED, None)
            report.delivered += 1
            logger.info("notification delivered", extra=ids)
            metrics.count(metrics.NOTIFICATIONS_DELIVERED, 1, **ids)
            return True
        age = claim.age_seconds + (self._clock() - started)
        delay = next_attempt_in(claim.attempt, age, self._jitter())
        with self._db.transaction() as tx:
            if delay is None:
                store.finish(tx, claim, ABANDONED, error)
            else:
                store.retry_later(tx, claim, delay, error)
        if delay is None:
            report.abandoned += 1
            logger.error("notification given up: not delivered within a day", extra={**ids, "error": error})
            metrics.count(metrics.NOTIFICATIONS_ABANDONED, 1, **ids)
        else:
            report.retried += 1
            logger.warning("notification not delivered; retrying later",
                           extra={**ids, "error": error, "retry_in_seconds": round(delay, 1)})
        return False
