"""SQL for alerts and their episodes (migration 014_alerts.sql). No decisions here: see services/alerts and
domain/alerts.

Every statement takes whole lists (a notification carries up to 1,000 alerts), and rows are locked and
written in fingerprint order, so concurrent notifications about the same alerts wait for each other
instead of deadlocking.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.alerts import Episode, Known, ReportedAlert
from chalicelib.domain.effectiveness import AlertBinding
from chalicelib.domain.rows import Row
from chalicelib.stores.db import UnitOfWork


def lock_alerts(tx: UnitOfWork, alerts: Sequence[ReportedAlert]) -> None:
    """Records the alerts not seen before and locks every one of them until commit (in fingerprint order)."""
    ordered = sorted(alerts, key=lambda alert: alert.fingerprint)
    tx.execute(
        """INSERT INTO alerts (fingerprint, alertname, namespace, labels)
           SELECT a.fingerprint, a.alertname, a.namespace, a.labels::jsonb
             FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS a(fingerprint, alertname, namespace, labels)
            ORDER BY a.fingerprint
           ON CONFLICT (fingerprint) DO NOTHING""",
        ([a.fingerprint for a in ordered], [a.alertname for a in ordered], [a.namespace for a in ordered],
         [json.dumps(a.labels, sort_keys=True) for a in ordered]),
    )
    tx.execute("SELECT fingerprint FROM alerts WHERE fingerprint = ANY(%s) ORDER BY fingerprint FOR UPDATE",
               ([a.fingerprint for a in ordered],))


def known(tx: UnitOfWork, alerts: Sequence[ReportedAlert]) -> dict[str, Known]:
    """For each alert: its latest recorded episode, and the recorded episode with the reported startsAt."""
    tx.execute(
        """SELECT r.fingerprint,
                  l.starts_at AS latest_starts_at, l.status AS latest_status, l.ends_at AS latest_ends_at,
                  s.status AS same_status, s.ends_at AS same_ends_at
             FROM unnest(%s::text[], %s::timestamptz[]) AS r(fingerprint, starts_at)
             LEFT JOIN LATERAL (SELECT e.starts_at, e.status, e.ends_at FROM alert_episodes e
                                 WHERE e.fingerprint = r.fingerprint ORDER BY e.starts_at DESC LIMIT 1) AS l ON true
             LEFT JOIN alert_episodes s ON s.fingerprint = r.fingerprint AND s.starts_at = r.starts_at""",
        ([a.fingerprint for a in alerts], [a.starts_at for a in alerts]),
    )
    starts = {a.fingerprint: a.starts_at for a in alerts}
    found: dict[str, Known] = {}
    for row in tx.fetchall():
        fingerprint = row["fingerprint"]
        latest = None if row["latest_status"] is None else Episode(
            fingerprint, row["latest_starts_at"], row["latest_status"], row["latest_ends_at"])
        same = None if row["same_status"] is None else Episode(
            fingerprint, starts[fingerprint], row["same_status"], row["same_ends_at"])
        found[fingerprint] = Known(latest, same)
    return found


def write_episodes(tx: UnitOfWork, episodes: Sequence[Episode]) -> None:
    """Inserts the episodes, or replaces the status and end of those recorded (their alerts are locked)."""
    if not episodes:
        return
    tx.execute(
        """INSERT INTO alert_episodes (fingerprint, starts_at, status, ends_at)
           SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::text[], %s::timestamptz[])
           ON CONFLICT (fingerprint, starts_at)
           DO UPDATE SET status = EXCLUDED.status, ends_at = EXCLUDED.ends_at, updated_at = now()""",
        ([e.fingerprint for e in episodes], [e.starts_at for e in episodes], [e.status for e in episodes],
         [e.ends_at for e in episodes]),
    )


@dataclass(frozen=True)
class Lookup:
    """The alerts that count for one execution and the period its judgement reads: its run and window."""

    binding: AlertBinding
    since: datetime
    until: datetime


def episodes_for(tx: UnitOfWork, lookups: Sequence[Lookup]) -> list[list[Row]]:
    """For each lookup (in order), the episodes that overlap [since, until] of the alerts that count for its
    execution: the alert it names (``binding.fingerprint``, its incident's alert_fingerprint), else those with this
    ``alertname`` (the incident's signal_type, case-insensitive) in this ``namespace`` (the target's; None: alerts
    without a namespace label). One statement for every lookup, each an index range of its own (one branch per
    form of the binding, so each uses its index); each list ordered by alert, then by when each episode started,
    so an alert that resolved and fired again shows as consecutive episodes."""
    if not lookups:
        return []
    tx.execute(
        """SELECT b.ord, a.fingerprint, a.alertname, a.namespace, e.starts_at, e.status, e.ends_at
             FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])
                  WITH ORDINALITY AS b(fingerprint, alertname, namespace, since, until, ord)
            CROSS JOIN LATERAL (
                SELECT a.fingerprint, a.alertname, a.namespace FROM alerts a
                 WHERE b.fingerprint IS NOT NULL AND a.fingerprint = b.fingerprint
                UNION ALL
                SELECT a.fingerprint, a.alertname, a.namespace FROM alerts a
                 WHERE b.fingerprint IS NULL AND b.namespace IS NOT NULL
                   AND lower(a.alertname) = lower(b.alertname) AND a.namespace = b.namespace
                UNION ALL
                SELECT a.fingerprint, a.alertname, a.namespace FROM alerts a
                 WHERE b.fingerprint IS NULL AND b.namespace IS NULL
                   AND lower(a.alertname) = lower(b.alertname) AND a.namespace IS NULL) a
             JOIN alert_episodes e ON e.fingerprint = a.fingerprint
                                  AND e.starts_at <= b.until AND (e.ends_at IS NULL OR e.ends_at >= b.since)
            ORDER BY b.ord, a.fingerprint, e.starts_at""",
        ([lookup.binding.fingerprint for lookup in lookups], [lookup.binding.alertname for lookup in lookups],
         [lookup.binding.namespace for lookup in lookups], [lookup.since for lookup in lookups],
         [lookup.until for lookup in lookups]),
    )
    found: list[list[Row]] = [[] for _ in lookups]
    for row in tx.fetchall():
        found[row["ord"] - 1].append(row)
    return found
