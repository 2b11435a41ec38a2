"""bench/guards.py at a tiny size, so the benchmark behind the README's guardrail figures keeps running: its own
embedded PostgreSQL and local server, a history bulk-loaded with COPY, every start and report answered as expected."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = r"p50 \d+\.\d\d ms p99 \d+\.\d\d ms"
LAST_LINE = re.compile(rf"^with guards {FIGURES} \| without {FIGURES} \| added p50 -?\d+\.\d\d ms p99 -?\d+\.\d\d ms$")


def test_guards_benchmark_runs_and_every_start_is_let_through() -> None:
    result = subprocess.run(
        [sys.executable, "bench/guards.py", "--executions", "3000", "--targets", "300", "--requests", "40"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    # The benchmark exits non-zero when a start or a report was answered wrongly.
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if not line.startswith("{")][-5:]
    assert lines[0] == "history: 3000 executions on 300 targets loaded with COPY in " + lines[0].split(" in ")[-1]
    assert lines[1].startswith("guard query alone (300 targets): p50 ")
    assert lines[3] == "starts timed: 20 with guards, 20 without; errors 0"
    assert LAST_LINE.match(lines[-1]), lines[-1]
