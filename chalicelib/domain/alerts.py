"""Alerts from Alertmanager: reading its webhook notification, and how each alert's record changes.

An alert is identified by its ``fingerprint`` (Alertmanager's hash of its labels). It fires in
*episodes*: an episode starts at ``startsAt`` and ends when Alertmanager reports it resolved at
``endsAt``. An alert that fires again after it resolved is a new episode with a later ``startsAt``:
Alertmanager merges alerts of one fingerprint only while their intervals overlap, so a new
``startsAt`` means the previous episode had ended. The catalog keeps every episode (the history
the effectiveness judgement reads: when each alert fired, resolved, and fired again).

Notifications may arrive twice (retries, Alertmanager in HA pairs, several routes) and out of order.
Nothing in the webhook orders notifications, so the record only ever moves forward, by what the
alert's own times say:
- within an episode, ``firing`` < ``superseded`` < ``resolved``: a resolved episode stays resolved
  (a firing notification about it is late), and the same state again changes nothing;
- a firing episode is ``superseded`` when a later episode of the alert is reported without its
  resolution (Alertmanager only sends an alert's current state, so an alert that resolved and fired
  again between two notifications arrives as a new episode): it ended at the latest when the new one
  started, which is the ``ends_at`` it gets; its real resolution, if it arrives, replaces that;
- a firing report of an episode older than the alert's latest one is late (that episode has ended)
  and changes nothing; a resolved report of one is recorded (it is a complete, true fact).
Known limit: Alertmanager reports an alert firing under its old ``startsAt`` again when it had resolved
the alert itself (its ``endsAt`` passed without a refresh: Prometheus unreachable for minutes) and
Prometheus then refreshed it; the catalog takes that firing report for a late one and keeps the
episode resolved.

Nothing here does I/O: the service loads what is stored, ``plan`` decides, the store writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import contracts
from chalicelib.domain.contracts import ALERTMANAGER_NOTIFICATION
from chalicelib.domain.errors import FieldError, ValidationFailed
from chalicelib.domain.limits import (
    ALERT_FINGERPRINT_PATTERN,
    MAX_ALERT_LABEL_VALUE,
    MAX_ALERT_LABELS,
    MAX_ALERTS_PER_NOTIFICATION,
    MAX_TIMESTAMP,
)
from chalicelib.domain.timestamps import parse_rfc3339, rfc3339_match
from chalicelib.domain.validation import schema_errors
from chalicelib.domain.vocabularies import AlertStatus

FIRING, SUPERSEDED, RESOLVED = AlertStatus
ALERT_STATUSES = tuple(contracts.ALERT_STATUSES)  # what Alertmanager reports
EPISODE_STATUSES = tuple(AlertStatus)  # what an episode may be, in the order it moves
_RANK: dict[str, int] = {status: rank for rank, status in enumerate(EPISODE_STATUSES)}

# Go's zero time: Alertmanager's endsAt of a firing alert.
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
# RFC 3339 as Go writes it (time.RFC3339Nano): up to 9 fractional digits.
GO_FRACTION_DIGITS = 9
# The path of a problem within one alert (the alert itself, or a field or item of it).
_ALERT_PATH = re.compile(r"\$\.alerts\[(\d+)\](?:$|[.\[])")

@dataclass(frozen=True)
class ReportedAlert:
    """One alert of a notification, as Alertmanager reported it."""

    fingerprint: str
    status: str  # firing | resolved
    starts_at: datetime
    ends_at: datetime | None  # when it resolved; None while firing
    labels: dict[str, str]

    @property
    def alertname(self) -> str | None:
        return self.labels.get("alertname")

    @property
    def namespace(self) -> str | None:
        return self.labels.get("namespace")


@dataclass(frozen=True)
class Notification:
    receiver: str | None
    group_key: str | None
    truncated_alerts: int  # alerts Alertmanager left out of this notification (max_alerts)
    alerts: tuple[ReportedAlert, ...]


# The notification without its alerts' schema: the envelope the generic validator checks whole.
_ENVELOPE = {**ALERTMANAGER_NOTIFICATION.schema, "properties": {
    **ALERTMANAGER_NOTIFICATION.schema["properties"],
    "alerts": {key: value for key, value in ALERTMANAGER_NOTIFICATION.schema["properties"]["alerts"].items()
               if key != "items"}}}
_FINGERPRINT = re.compile(ALERT_FINGERPRINT_PATTERN.removeprefix("^").removesuffix("$"))


def contract_errors(body: Mapping[str, Any]) -> list[FieldError]:
    """The problems of ``body`` against ALERTMANAGER_NOTIFICATION, as the generic validator words them.

    A notification carries up to 1,000 alerts of about ten labels each, and the validator's cost per value made it
    most of a notification's time (bench/alerts.py): so each alert is handed to the validator only when a plain look
    (``plainly_valid``) cannot tell it is well formed, which a sender such as Alertmanager never makes it do.
    ``plainly_valid`` only ever says yes to an alert the contract accepts (tests/unit/test_alert_rules.py checks it
    against the validator on generated alerts), so the answer is the validator's, only sooner."""
    errors = schema_errors(_ENVELOPE, body)
    alerts = body.get("alerts") if isinstance(body, Mapping) else None
    for index, alert in enumerate(alerts if isinstance(alerts, list) else ()):
        if not plainly_valid(alert):
            errors += schema_errors(contracts.ALERT, alert, root=f"$.alerts[{index}]")
    return sorted(errors, key=lambda error: error.path)


def plainly_valid(alert: object) -> bool:
    """True only for an alert that contracts.ALERT accepts (False: the validator must look)."""
    if type(alert) is not dict or alert.get("status") not in ALERT_STATUSES:
        return False
    labels, fingerprint = alert.get("labels"), alert.get("fingerprint")
    if type(labels) is not dict or len(labels) > MAX_ALERT_LABELS or \
            any(type(value) is not str or len(value) > MAX_ALERT_LABEL_VALUE for value in labels.values()):
        return False
    if type(fingerprint) is not str or _FINGERPRINT.fullmatch(fingerprint) is None:
        return False
    times = [alert[key] for key in ("startsAt", "endsAt") if key in alert]
    if "startsAt" not in alert or (alert["status"] == RESOLVED and "endsAt" not in alert):
        return False
    return all(type(text) is str and len(text) <= MAX_TIMESTAMP and rfc3339_match(text, GO_FRACTION_DIGITS)
               for text in times)


def parse_notification(body: Mapping[str, Any]) -> Notification:
    """A notification checked against ALERTMANAGER_NOTIFICATION, its times and its fingerprints; one 400
    lists every problem (nothing is recorded then)."""
    detail = ALERTMANAGER_NOTIFICATION.detail
    alerts = body.get("alerts")
    if isinstance(alerts, list) and len(alerts) > MAX_ALERTS_PER_NOTIFICATION:
        # Said at once: checking 10,000 alerts one by one would only bury this under their own problems.
        raise ValidationFailed(detail, [FieldError("$.alerts", (
            f"has {len(alerts)} alerts; at most {MAX_ALERTS_PER_NOTIFICATION} per notification (set max_alerts: "
            f"{MAX_ALERTS_PER_NOTIFICATION} in Alertmanager's webhook_configs)"))])
    errors = contract_errors(body)
    if any(error.path == "$.alerts" for error in errors):
        raise ValidationFailed(detail, errors)
    reported: list[ReportedAlert] = []
    seen: dict[str, int] = {}
    # The alerts the contract found problems in (looked up once: a body of 1,000 bad alerts has thousands).
    flagged = {int(match[1]) for error in errors if (match := _ALERT_PATH.match(error.path))}
    for index, alert in enumerate(body.get("alerts", ())):
        path = f"$.alerts[{index}]"
        if index in flagged:
            continue  # the contract's problems of this alert are listed; its times and labels mean nothing yet
        parsed = _alert(alert, path, errors)
        if parsed is None:
            continue
        if parsed.fingerprint in seen:
            errors.append(FieldError(f"{path}.fingerprint", f"repeats the fingerprint of "
                                     f"$.alerts[{seen[parsed.fingerprint]}]; an alert appears once in a notification"))
            continue
        seen[parsed.fingerprint] = index
        reported.append(parsed)
    if errors:
        raise ValidationFailed(detail, sorted(errors, key=lambda e: e.path))
    return Notification(body.get("receiver"), body.get("groupKey"), body.get("truncatedAlerts", 0), tuple(reported))


def _alert(alert: Mapping[str, Any], path: str, errors: list[FieldError]) -> ReportedAlert | None:
    found = len(errors)
    starts_at = _time(alert["startsAt"], f"{path}.startsAt", errors)
    ends_at = None
    if alert["status"] != RESOLVED:
        if "endsAt" in alert:  # a firing alert's end means nothing yet (Go's zero time), but it is still a time
            _time(alert["endsAt"], f"{path}.endsAt", errors)
    else:
        ends_at = _time(alert["endsAt"], f"{path}.endsAt", errors)
        if ends_at == ZERO_TIME:
            errors.append(FieldError(f"{path}.endsAt", "must be when the alert resolved, not the zero time"))
        elif ends_at is not None and starts_at is not None and ends_at < starts_at:
            errors.append(FieldError(f"{path}.endsAt", "must not be before startsAt"))
    if starts_at == ZERO_TIME:
        errors.append(FieldError(f"{path}.startsAt", "must be when the alert started, not the zero time"))
    if len(errors) > found or starts_at is None:
        return None
    return ReportedAlert(alert["fingerprint"], alert["status"], starts_at, ends_at, dict(alert["labels"]))


def _time(text: str, path: str, errors: list[FieldError]) -> datetime | None:
    """An RFC 3339 time in UTC (nanoseconds cut to the microseconds PostgreSQL keeps)."""
    try:
        return parse_rfc3339(text, GO_FRACTION_DIGITS).astimezone(UTC)
    except (ValueError, OverflowError):
        errors.append(FieldError(path, "must be an RFC 3339 time, e.g. 2026-12-01T10:00:00.000Z"))
        return None


@dataclass(frozen=True)
class Episode:
    """One firing period of an alert, as recorded."""

    fingerprint: str
    starts_at: datetime
    status: str  # firing | superseded | resolved
    ends_at: datetime | None  # None while firing


@dataclass(frozen=True)
class Known:
    """What is recorded about a reported alert: its latest episode, and the episode it reports (if recorded)."""

    latest: Episode | None
    same: Episode | None


def plan(alert: ReportedAlert, known: Known) -> list[Episode]:
    """The episodes to write (insert or replace) for one reported alert; empty when it changes nothing."""
    reported = Episode(alert.fingerprint, alert.starts_at, alert.status, alert.ends_at)
    if known.same is not None:
        return [reported] if _RANK[reported.status] > _RANK[known.same.status] else []
    latest = known.latest
    if latest is None or reported.starts_at > latest.starts_at:
        writes = [reported]
        if latest is not None and latest.status == FIRING:
            writes.insert(0, Episode(latest.fingerprint, latest.starts_at, SUPERSEDED, reported.starts_at))
        return writes
    return [reported] if reported.status == RESOLVED else []


@dataclass(frozen=True)
class Plan:
    writes: list[Episode]  # ordered by (fingerprint, starts_at), the order the store writes (and locks) in
    changed: int  # reported alerts whose record changes


def plan_all(alerts: Sequence[ReportedAlert], known: Mapping[str, Known]) -> Plan:
    """Every write of a notification; ``known`` holds what is recorded about each alert's fingerprint."""
    plans = [plan(alert, known.get(alert.fingerprint, Known(None, None))) for alert in alerts]
    writes = sorted((episode for episodes in plans for episode in episodes), key=lambda e: (e.fingerprint, e.starts_at))
    return Plan(writes, sum(1 for episodes in plans if episodes))
