"""An alert storm on the alert intake: Alertmanager notifications from many concurrent senders, every alert
counted afterwards in the catalog's tables.

Starts a fresh embedded PostgreSQL and the local server (`make run`'s, as bench/load.py --spawn does) on
it, sends one notification per sender to warm it up (its first requests open its database connections),
then
1. storm: --alerts new firing alerts in notifications of --per-notification (Alertmanager's webhook body,
   version 4, with real fingerprints) from --senders concurrent senders, each on its own keep-alive
   connection. Every answer must be 200 with every alert of it recorded; afterwards the tables must hold
   exactly one alert and one firing episode per alert sent: none lost, none duplicated.
2. replay and resolve: the same firing notifications again (as an Alertmanager HA pair or a retry sends
   them), shuffled with the resolved notifications of every alert, from the same senders. Every replayed
   notification must change nothing and every resolved one must record all its alerts, whatever the
   order; afterwards every alert has exactly one episode, resolved at the time sent.

    .venv/bin/python bench/alerts.py --alerts 10000 --per-notification 100 --senders 16

Target (README, "Benchmarks"): none lost, none duplicated, storm p99 below 500 ms on a 2-core machine.
Last line: `notifications/s X alerts/s Y p50 A ms p99 B ms lost L duplicated D` (the storm's figures,
the counts over both phases). Exits non-zero when anything was lost, duplicated or answered wrongly.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import percentile, timed_together
from search_quality import PROJECT_DIR, start_database

sys.path.insert(0, str(PROJECT_DIR))

from tests.support.alerts import PATH, alertmanager_fingerprint, go_time
from tests.support.server import CatalogProcess

TIMEOUT_SECONDS = 60.0
ALERTNAME, WARM_UP = "KubePodCrashLooping", "BenchWarmUp"
STARTS = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(minutes=7)


def storm_labels(index: int, alertname: str = ALERTNAME) -> dict[str, str]:
    """Labels like kube-prometheus's: a pod of one of 50 namespaces, with the usual scrape labels."""
    return {"alertname": alertname, "namespace": f"team-{index % 50}", "pod": f"api-{index}",
            "container": "api", "job": "kube-state-metrics", "severity": "warning",
            "service": "prometheus-kube-state-metrics", "endpoint": "http", "instance": "10.0.12.7:8080",
            "prometheus": "monitoring/k8s"}


def notification(indices: range, status: str, alertname: str = ALERTNAME) -> dict[str, Any]:
    alerts = []
    for index in indices:
        labels = storm_labels(index, alertname)
        alerts.append({
            "status": status, "labels": labels,
            "annotations": {"summary": "Pod is crash looping.",
                            "description": f"Pod {labels['namespace']}/{labels['pod']} ({labels['container']}) is "
                                           "in waiting state (reason: CrashLoopBackOff).",
                            "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/"
                                           "kubepodcrashlooping"},
            "startsAt": go_time(STARTS), "endsAt": go_time(ENDS) if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=max_over_time%28kube_pod_container_status",
            "fingerprint": alertmanager_fingerprint(labels),
        })
    return {"receiver": "catalog", "status": status, "alerts": alerts,
            "groupLabels": {"alertname": alertname}, "commonLabels": {"alertname": alertname},
            "commonAnnotations": {}, "externalURL": "http://alertmanager.example:9093", "version": "4",
            "groupKey": f'{{}}:{{alertname="{alertname}"}}', "truncatedAlerts": 0}


@dataclass
class Send:
    body: bytes
    alerts: int
    expect_recorded: int  # how many of its alerts must be recorded (the rest: unchanged)


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    alerts: int = 0
    errors: list[str] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        return percentile(self.latencies_ms, share)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (f"notifications/s {self.rate:.1f} alerts/s {self.alerts / self.seconds if self.seconds else 0:.0f} "
                f"p50 {self.percentile(0.50):.1f} ms p99 {self.percentile(0.99):.1f} ms")


class Sender:
    """One keep-alive connection, as Alertmanager holds one per receiver."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                                      timeout=TIMEOUT_SECONDS)
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def send(self, body: bytes) -> tuple[int, Any]:
        self._connection.request("POST", PATH, body=body, headers=self._headers)
        response = self._connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    def close(self) -> None:
        self._connection.close()


def run_phase(name: str, url: str, key: str, sends: list[Send], senders: int) -> Phase:
    phase = Phase(name, alerts=sum(send.alerts for send in sends))
    lock = threading.Lock()
    start = threading.Barrier(senders + 1)

    def work(share: list[Send]) -> None:
        sender = Sender(url, key)
        start.wait()
        for send in share:
            began = time.perf_counter()
            try:
                status, body = sender.send(send.body)
                problem = None
                if status != 200:
                    problem = f"answered {status}: {str(body)[:200]}"
                elif (body["received"], body["recorded"]) != (send.alerts, send.expect_recorded):
                    problem = f"expected {send.expect_recorded} of {send.alerts} recorded, got {body}"
            except Exception as exc:  # a reset or a timeout: an error a sender would see
                problem = f"{type(exc).__name__}: {exc}"
                sender.close()
                sender = Sender(url, key)
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                phase.latencies_ms.append(elapsed)
                if problem:
                    phase.errors.append(problem)
        sender.close()

    phase.seconds = timed_together(
        [threading.Thread(target=work, args=(sends[index::senders],), daemon=True) for index in range(senders)], start)
    return phase


@dataclass
class Count:
    alerts: int
    episodes: int
    distinct: int  # distinct fingerprints among the episodes
    right: int  # episodes in the state expected


def count(database_url: str, status: str) -> Count:
    import psycopg2

    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        ends = ENDS if status == "resolved" else None
        cur.execute(
            """SELECT (SELECT count(*) FROM alerts WHERE alertname = %s), count(*), count(DISTINCT e.fingerprint),
                      count(*) FILTER (WHERE status = %s AND starts_at = %s AND ends_at IS NOT DISTINCT FROM %s)
                 FROM alert_episodes e JOIN alerts a USING (fingerprint) WHERE a.alertname = %s""",
            (ALERTNAME, status, STARTS, ends, ALERTNAME),
        )
        row = cur.fetchone()
    conn.close()
    assert row is not None
    return Count(*row)


def lost_and_duplicated(found: Count, sent: int) -> tuple[int, int]:
    """Alerts sent but not recorded (or not in the state sent), and records beyond one per alert."""
    return sent - min(found.right, found.distinct), (found.episodes - found.distinct) + max(0, found.alerts - sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--per-notification", type=int, default=100)
    parser.add_argument("--senders", type=int, default=16)
    args = parser.parse_args()
    batches = [range(first, min(first + args.per_notification, args.alerts))
               for first in range(0, args.alerts, args.per_notification)]
    firing = [Send(json.dumps(notification(batch, "firing")).encode(), len(batch), len(batch)) for batch in batches]
    resolving = [Send(json.dumps(notification(batch, "resolved")).encode(), len(batch), len(batch))
                 for batch in batches]
    replays = [Send(send.body, send.alerts, 0) for send in firing]
    mixed = replays + resolving
    random.Random(25).shuffle(mixed)

    os.environ["LOG_LEVEL"] = "WARNING"  # this process's own work (creating the database) is not the output
    start_database("default")  # a fresh embedded PostgreSQL, migrated; DATABASE_URL names it
    database_url = os.environ["DATABASE_URL"]
    env = {"DATABASE_URL": database_url, "POWERTOOLS_METRICS_DISABLED": "true", "LOG_LEVEL": "WARNING"}
    with CatalogProcess(env=env) as server:
        # A running server: its first requests open its database connections and build the contract's
        # validator (the first 16 take 0.5-0.7 s together); one notification per sender first, not counted.
        warm_up = [Send(json.dumps(notification(range(index * 10, index * 10 + 10), "firing", WARM_UP)).encode(),
                        10, 10) for index in range(args.senders)]
        if run_phase("warm-up", server.url, server.key, warm_up, args.senders).errors:
            sys.exit("the warm-up failed")
        storm = run_phase("storm", server.url, server.key, firing, args.senders)
        after_storm = count(database_url, "firing")
        replay = run_phase("replay and resolve", server.url, server.key, mixed, args.senders)
        after_replay = count(database_url, "resolved")

    lost, duplicated = (sum(pair) for pair in zip(lost_and_duplicated(after_storm, args.alerts),
                                                  lost_and_duplicated(after_replay, args.alerts), strict=True))
    for phase, found in ((storm, after_storm), (replay, after_replay)):
        print(f"{phase.name}: {len(phase.latencies_ms)} notifications ({phase.alerts} alerts) from {args.senders} "
              f"senders in {phase.seconds:.2f} s: {phase.line()} errors {len(phase.errors)}")
        print(f"  counted: {found.alerts} alerts, {found.episodes} episodes ({found.right} as sent)")
        for problem in sorted(set(phase.errors))[:5]:
            print(f"  error: {problem} (x{phase.errors.count(problem)})")
    print(f"{storm.line()} lost {lost} duplicated {duplicated}")
    if lost or duplicated or storm.errors or replay.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
