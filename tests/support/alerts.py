"""Alertmanager webhook bodies for tests, shaped exactly as Alertmanager 0.25 sends them, and the alert
tables as rows to compare.

The fingerprints are Alertmanager's own (``alertmanager_fingerprint``): the catalog takes a fingerprint as
an opaque identity, but realistic bodies carry what Alertmanager would send. tests/alerts/test_alertmanager.py
proves the function equals Alertmanager's on what a real Alertmanager sends (and tests/unit/test_alert_rules.py
pins vectors taken from it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

# Alertmanager's fingerprint (prometheus/common model.LabelSet.Fingerprint): 64-bit FNV-1a over the labels
# sorted by name, each name and value followed by the separator byte 0xff, written as 16 hex digits.
_FNV_OFFSET, _FNV_PRIME, _MASK = 14695981039346656037, 1099511628211, (1 << 64) - 1


def alertmanager_fingerprint(labels: Mapping[str, str]) -> str:
    # Sorted by name: code point order is UTF-8 byte order, Go's string order.
    data = b"".join(part.encode("utf-8") + b"\xff" for name in sorted(labels) for part in (name, labels[name]))
    digest = _FNV_OFFSET
    for byte in data:
        digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"


PATH = "/api/v1/alerts/alertmanager"
WRITE = ("alerts:write",)
ZERO = "0001-01-01T00:00:00Z"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def go_time(moment: datetime) -> str:
    """A time as Go's RFC3339Nano writes it (nanoseconds, trailing zeros dropped)."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}000".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def labels(pod: str = "api-1", alertname: str = "KubePodCrashLooping", namespace: str | None = "payments",
           **extra: str) -> dict[str, str]:
    found = {"alertname": alertname, "pod": pod, "severity": "critical", **extra}
    if namespace is not None:
        found["namespace"] = namespace
    return found


def alert(alert_labels: dict[str, str] | None = None, status: str = "firing", starts: datetime = T0,
          ends: datetime | None = None) -> dict[str, Any]:
    """One alert of a notification; ``ends`` (when it resolved) only for a resolved one."""
    alert_labels = alert_labels or labels()
    return {
        "status": status,
        "labels": alert_labels,
        "annotations": {"summary": "Pod is crash looping", "runbook_url": "https://runbooks.example/crashloop"},
        "startsAt": go_time(starts),
        "endsAt": go_time(ends or starts + timedelta(minutes=5)) if status == "resolved" else ZERO,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
        "fingerprint": alertmanager_fingerprint(alert_labels),
    }


def resolved(alert_labels: dict[str, str] | None = None, starts: datetime = T0, ends: datetime | None = None
             ) -> dict[str, Any]:
    return alert(alert_labels, "resolved", starts, ends)


def notification(*alerts: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A version 4 notification of these alerts (one group), as Alertmanager sends it."""
    common = dict(alerts[0]["labels"]) if alerts else {}
    for other in alerts[1:]:
        common = {k: v for k, v in common.items() if other["labels"].get(k) == v}
    group = {k: common[k] for k in ("alertname", "namespace") if k in common}
    body = {
        "receiver": "catalog",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": list(alerts),
        "groupLabels": group,
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "version": "4",
        "groupKey": "{}:{" + ", ".join(f'{k}="{v}"' for k, v in group.items()) + "}",
        "truncatedAlerts": 0,
    }
    body.update(changes)
    return body


def alert_tables(db: Any) -> dict[str, list[Any]]:
    """Every row of the alert tables, in a stable order (to compare before and after)."""
    with db.reading() as cur:
        cur.execute("SELECT * FROM alerts ORDER BY fingerprint")
        alerts = cur.fetchall()
        cur.execute("SELECT * FROM alert_episodes ORDER BY fingerprint, starts_at")
        return {"alerts": alerts, "alert_episodes": cur.fetchall()}


def episodes(db: Any, fingerprint: str) -> list[tuple[str, datetime, datetime | None]]:
    """(status, starts_at, ends_at) of each episode of an alert, oldest first."""
    with db.reading() as cur:
        cur.execute("SELECT status, starts_at, ends_at FROM alert_episodes WHERE fingerprint = %s ORDER BY starts_at",
                    (fingerprint,))
        return [(row["status"], row["starts_at"], row["ends_at"]) for row in cur.fetchall()]
