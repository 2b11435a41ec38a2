"""bench/alerts.py at a tiny size, so the benchmark behind the README's alert storm figures keeps running:
its own embedded PostgreSQL and local server, every answer checked and every alert counted afterwards."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(r"^notifications/s \d+\.\d alerts/s \d+ p50 \d+\.\d ms p99 \d+\.\d ms lost 0 duplicated 0$")


def test_alert_storm_benchmark_runs_and_loses_or_duplicates_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "bench/alerts.py", "--alerts", "240", "--per-notification", "20", "--senders", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    # The benchmark exits non-zero when an alert was lost or duplicated, or an answer was wrong.
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()[-5:]
    assert lines[0].startswith("storm: 12 notifications (240 alerts) from 4 senders"), lines
    assert lines[2].startswith("replay and resolve: 24 notifications (480 alerts)"), lines
    assert lines[1] == lines[3] == "  counted: 240 alerts, 240 episodes (240 as sent)"
    assert LAST_LINE.match(lines[-1]), lines[-1]
