"""bench/registration.py at a tiny size, so the benchmark behind the README's registration figures keeps
running: its own embedded PostgreSQL and loopback registry, real images, every registration checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.registry import INSTALL_HINT, registry_binary

ROOT = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(r"^p50 \d+\.\d ms p95 \d+\.\d ms throughput \d+\.\d registrations/s$")


def test_registration_benchmark_runs_and_reports_its_figures() -> None:
    if registry_binary() is None:
        pytest.skip(INSTALL_HINT)
    result = subprocess.run(
        [sys.executable, "bench/registration.py", "--latency", "2", "--throughput", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    # The benchmark exits non-zero when any registration did not succeed.
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-3].startswith("latency over 2 registrations: ")
    assert lines[-2].startswith("throughput: 3 registrations in ")
    assert LAST_LINE.match(lines[-1]), lines[-1]
