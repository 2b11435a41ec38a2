"""bench/runner.py at a tiny size, so the benchmark behind the runner's figures (bench/README.md) keeps running:
its own embedded PostgreSQL, catalog server, watcher process and in-memory cluster; every execution must succeed
with exactly one PipelineRun (the targets are the full run's to report)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(r"^created p50 \d+\.\d{3} s p99 \d+\.\d{3} s final p50 \d+\.\d{3} s p99 \d+\.\d{3} s "
                       r"idle -?\d+\.\d{2} queries/s per runner lost 0$")


def test_runner_benchmark_runs_every_execution_once_through_the_cluster() -> None:
    result = subprocess.run(
        [sys.executable, "bench/runner.py", "--executions", "8", "--rate", "20", "--run-seconds", "0.2",
         "--idle-runners", "2", "--idle-seconds", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    # The benchmark exits non-zero when an execution did not succeed or had other than one PipelineRun.
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-4].startswith("executions: 8 started at 20/s") and ", 0 not succeeded, 8 PipelineRuns" in lines[-4]
    assert lines[-3].startswith("idle: ") and "with 3 waiting runners" in lines[-3]
    assert LAST_LINE.match(lines[-1]), lines[-1]
