"""Notifications: the events people are told about, what a receiver gets, its signature and the retry schedule.

An event is written to an outbox in the transaction that causes it (``record`` in
chalicelib/services/notifications.py), so a rolled-back action tells nobody and a committed one is never
lost; the maintenance loop then delivers it at least once to each configured channel (README,
"Notifications"): a signed webhook and, in AWS, an SNS topic.

What a receiver gets (``OutboxEvent.body``), the same bytes on every attempt::

    {"id": "<event id, also the Idempotency-Key>", "type": "execution.awaiting_approval",
     "occurred_at": "2026-12-07T10:00:00.000Z", "source": "workflow-catalog",
     "data": {"execution_id", "workflow_id", "version", "incident_id", "target", "status",
              "previous_status", "actor", "reason", "links", and where a person can act: "expires_at",
              "actions": [{"name", "method", "path", "scope", "body"}]}}

``data`` never carries parameter values (they may be secrets): only ids, states, who and why.

Signature (``sign``): ``X-Catalog-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with
the shared secret, so a receiver can check both who sent the body and when (docs/operations.md shows the
check). Pure: sending lives in chalicelib/adapters (webhook, SNS).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.egress import HTTP_PORT, HTTPS_PORT, EgressRules, parse_destination
from chalicelib.domain.executions import APPROVED, AWAITING_APPROVAL, EXPIRED, FAILED, REJECTED
from chalicelib.domain.timestamps import rfc3339
from chalicelib.domain.vocabularies import CircuitState, DeliveryStatus, NotificationChannel, NotificationType

(EXECUTION_AWAITING_APPROVAL, EXECUTION_APPROVED, EXECUTION_REJECTED, EXECUTION_EXPIRED, EXECUTION_FAILED,
 GUARD_CIRCUIT_OPENED) = NotificationType
EVENT_TYPES = tuple(NotificationType)  # domain/vocabularies.py (migration 013's CHECK lists the same values)
# The execution state each execution event reports.
EXECUTION_EVENT_STATUS: dict[str, str] = {
    EXECUTION_AWAITING_APPROVAL: AWAITING_APPROVAL,
    EXECUTION_APPROVED: APPROVED,
    EXECUTION_REJECTED: REJECTED,
    EXECUTION_EXPIRED: EXPIRED,
    EXECUTION_FAILED: FAILED,
}

# Where events go. Each event gets a delivery row per channel when it is recorded; a process delivers the
# channels it has configured (the API functions record, the maintenance loop delivers).
WEBHOOK, SNS = NotificationChannel
CHANNELS = tuple(NotificationChannel)
PENDING, DELIVERED, ABANDONED = DeliveryStatus

SOURCE = "workflow-catalog"
SIGNATURE_HEADER = "X-Catalog-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_TYPE_HEADER = "X-Catalog-Event"

# Retries: 10 s, doubling up to an hour between attempts (each with jitter), for up to a day after the event;
# then the delivery is given up (logged, and the NotificationsAbandoned metric). 30 to 60 attempts in all.
RETRY_FOR_SECONDS = 24 * 3600
FIRST_RETRY_SECONDS = 10.0
MAX_RETRY_SECONDS = 3600.0
# The outbox keeps an event this long (well past the last retry), then the maintenance loop deletes it.
KEEP_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Notification:
    """An event to record: its type and data; the id is the receivers' idempotency key."""

    event_type: str
    data: Mapping[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown notification type {self.event_type!r}")


@dataclass(frozen=True)
class OutboxEvent:
    """An event as the outbox holds it (occurred_at: the recording transaction's time)."""

    event_id: str
    event_type: str
    occurred_at: datetime
    data: Mapping[str, Any]

    def document(self) -> dict[str, Any]:
        return {"id": self.event_id, "type": self.event_type, "occurred_at": rfc3339(self.occurred_at),
                "source": SOURCE, "data": dict(self.data)}

    def body(self) -> bytes:
        """The JSON a receiver gets, byte for byte the same on every attempt (keys sorted, no spaces)."""
        return json.dumps(self.document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class DeliveryFailed(Exception):
    """A channel could not deliver an event this time; the message says why (never a secret)."""


# --- the events ------------------------------------------------------------------------------------
def execution_event(
    event_type: str, execution: Mapping[str, Any], *, actor: str, reason: str | None, previous_status: str | None
) -> Notification:
    """The notification of a change of ``execution`` (a row of the executions store: ids, target, version,
    incident id, approval deadline). Its parameters are never read."""
    if event_type not in EXECUTION_EVENT_STATUS:
        raise ValueError(f"{event_type!r} is not an execution event")
    execution_id = str(execution["execution_id"])
    path = f"/api/v1/executions/{execution_id}"
    data: dict[str, Any] = {
        "execution_id": execution_id,
        "workflow_id": execution["workflow_id"],
        "version": execution["version"],
        "incident_id": execution["incident_id"],
        "target": {"kind": execution["target_kind"], "namespace": execution["target_namespace"],
                   "name": execution["target_name"], "cluster": execution["target_cluster"]},
        "status": EXECUTION_EVENT_STATUS[event_type],
        "previous_status": previous_status,
        "actor": actor,
        "reason": reason,
        "links": {"execution": path, "workflow": f"/api/v1/playbooks/{execution['workflow_id']}"},
    }
    reject = _action("reject", "POST", f"{path}/reject", "executions:approve", {"reason": "<why>"})
    if event_type == EXECUTION_AWAITING_APPROVAL:
        # Any key with the scope but the requester's (README, "Approvals").
        data["expires_at"] = rfc3339(execution["approval_expires_at"])
        data["actions"] = [_action("approve", "POST", f"{path}/approve", "executions:approve", {"reason": "<why>"}),
                           reject]
    elif event_type == EXECUTION_APPROVED:
        data["expires_at"] = rfc3339(execution["approval_expires_at"])  # it must be started before then
        data["actions"] = [_action("start", "POST", f"{path}/start", "executions:write", None), reject]
    return Notification(event_type, data)


def circuit_opened(*, workflow_id: str, reason: str, failed: int, finished: int, actor: str) -> Notification:
    """The workflow's circuit breaker opened by itself: ``failed`` of its last ``finished`` executions failed.
    It stays open until an operator closes it."""
    path = f"/api/v1/playbooks/{workflow_id}"
    return Notification(GUARD_CIRCUIT_OPENED, {
        "workflow_id": workflow_id,
        "status": CircuitState.OPEN,
        "actor": actor,
        "reason": reason,
        "failed": failed,
        "finished": finished,
        "links": {"workflow": path},
        "actions": [_action("close", "PATCH", path, "catalog:write",
                            {"circuit": CircuitState.CLOSED, "reason": "<why>"})],
    })


def _action(name: str, method: str, path: str, scope: str, body: dict[str, str] | None) -> dict[str, Any]:
    return {"name": name, "method": method, "path": path, "scope": scope, "body": body}


@dataclass(frozen=True)
class Summary:
    """An event in words, for people (e-mail, chat)."""

    title: str
    description: str
    next_steps: tuple[str, ...]


def summarize(event: OutboxEvent) -> Summary:
    data = event.data
    if event.event_type == GUARD_CIRCUIT_OPENED:
        return Summary(
            f"Circuit opened for workflow {data['workflow_id']}",
            f"{data['failed']} of the last {data['finished']} executions of {data['workflow_id']} failed; it will "
            f"not run again until an operator closes its circuit. {data['reason']}",
            tuple(_step(action) for action in data["actions"]),
        )
    target = data["target"]
    where = f"{target['kind']} {target['namespace']}/{target['name']}" if target["namespace"] else \
        f"{target['kind']} {target['name']}"
    subject = f"{data['workflow_id']} {data['version']} on {where}"
    titles: dict[str, str] = {
        EXECUTION_AWAITING_APPROVAL: f"Approval needed: {subject}",
        EXECUTION_APPROVED: f"Approved: {subject}",
        EXECUTION_REJECTED: f"Rejected: {subject}",
        EXECUTION_EXPIRED: f"Expired: {subject}",
        EXECUTION_FAILED: f"Failed: {subject}",
    }
    title = titles[event.event_type]
    who = f"by {data['actor']}" + (f": {data['reason']}" if data.get("reason") else "")
    description = f"Execution {data['execution_id']} (incident {data['incident_id']}) is {data['status']}, {who}."
    if "expires_at" in data:
        description += f" It expires at {data['expires_at']}."
    return Summary(title, description, tuple(_step(action) for action in data.get("actions", ())))


def _step(action: Mapping[str, Any]) -> str:
    body = f" {json.dumps(action['body'])}" if action["body"] else ""
    return f"{action['name']}: {action['method']} {action['path']}{body} (scope {action['scope']})"


# --- signing, retries, destinations --------------------------------------------------------------------
def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The X-Catalog-Signature value: ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(failures: int, jitter: float) -> float:
    """Seconds to wait after the ``failures``-th failed attempt (1, 2, ...): 10 s doubling to an hour, of
    which a random half (``jitter`` in [0, 1)) is dropped, so deliverers that failed together spread out."""
    ceiling = min(FIRST_RETRY_SECONDS * 2 ** min(max(failures, 1) - 1, 30), MAX_RETRY_SECONDS)
    return ceiling * (0.5 + 0.5 * jitter)


def next_attempt_in(failures: int, age_seconds: float, jitter: float) -> float | None:
    """When to try again after a failed attempt on an event ``age_seconds`` old: the retry delay, the last
    attempt falling on the day's end; None once a day has passed (give up)."""
    if age_seconds >= RETRY_FOR_SECONDS:
        return None
    return min(retry_delay(failures, jitter), RETRY_FOR_SECONDS - age_seconds)


def webhook_egress_rules(private_destinations: tuple[str, ...]) -> EgressRules:
    """The egress rule for the webhook (chalicelib/domain/egress.py): a listed ``host[:port]`` of
    NOTIFY_PRIVATE_DESTINATIONS may resolve to a non-public address and may be reached over plain HTTP (an
    entry without a port means 443 for HTTPS and 80 for HTTP); anything else must be public and HTTPS."""
    return EgressRules.from_lists(insecure=private_destinations, private=private_destinations)


@dataclass(frozen=True)
class WebhookUrl:
    """NOTIFY_WEBHOOK_URL, parsed: where to connect and what to ask for."""

    scheme: str  # http or https
    host: str  # normalized (chalicelib/domain/egress.py)
    port: int
    target: str  # path and query

    @property
    def destination(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_webhook_url(text: str) -> WebhookUrl:
    """An absolute http(s) URL without credentials or fragment; ValueError saying what is wrong."""
    if len(text) > 2048 or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("must be a URL of at most 2048 characters, without spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a usable URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (the signature authenticates the catalog)")
    if parts.fragment:
        raise ValueError("must not have a fragment")
    host = parts.hostname
    host, _ = parse_destination(f"[{host}]" if ":" in host else host)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookUrl(scheme, host, port or (HTTPS_PORT if scheme == "https" else HTTP_PORT), target)
