"""The published contract, checked by a client nobody here wrote: schemathesis against `make run`'s server.

``run(seconds)`` starts the real local server (tests/support/server.py: its own embedded database, the
examples loaded, a key with every scope), runs ``st run`` on its ``/api/v1/openapi.json`` with every check
(configuration and intended exceptions: tests/contract/schemathesis.toml and hooks.py) for a time budget
with a fixed seed, and returns what schemathesis reported. tests/contract/test_schemathesis.py runs it for
about a minute in `make test`; `make fuzz` runs it longer:

    .venv/bin/python -m tests.contract.fuzz --minutes 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import PROJECT_DIR, CatalogProcess

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")


@dataclass(frozen=True)
class Outcome:
    returncode: int
    output: str  # schemathesis' report
    seconds: float
    key_still_valid: bool  # the run's own key survived (it must: tests/contract/hooks.py)

    @property
    def counts(self) -> dict[str, int]:
        """Test cases generated, failures found, cases skipped, and failures the exceptions dropped."""
        counts = {}
        for name, pattern in (("generated", r"(\d+) generated"), ("failures", r"(\d+) found"),
                              ("skipped", r"(\d+) skipped"), ("excepted", r"Filtered: (\d+)")):
            found = re.findall(pattern, self.output)
            counts[name] = int(found[-1]) if found else 0
        return counts

    @property
    def summary(self) -> str:
        """schemathesis' closing summary (the SUMMARY section)."""
        return self.output.rsplit("= SUMMARY =", 1)[-1]


def _get(url: str, key: str) -> tuple[int, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def run(seconds: int, workers: int = 2) -> Outcome:
    env = {"LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    with CatalogProcess(env=env) as server, tempfile.TemporaryDirectory(prefix="catalog-fuzz-") as reports:
        status, keys = _get(f"{server.url}/api/v1/api-keys", server.key)
        assert status == 200 and isinstance(keys, dict) and len(keys["items"]) == 1, keys
        command = [str(ST), "--config-file", str(CONFIG), "--no-color", "run", f"{server.url}/api/v1/openapi.json",
                   "-H", f"Authorization: Bearer {server.key}", "--max-time", str(seconds), "--workers", str(workers),
                   "--report", "junit", "--report-dir", reports]
        started = time.monotonic()
        result = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=seconds + 600,
                                env={**os.environ, "CATALOG_FUZZ_KEY_ID": keys["items"][0]["key_id"]})
        took = time.monotonic() - started
        still_valid = _get(f"{server.url}/api/v1/playbooks", server.key)[0] == 200
    return Outcome(result.returncode, result.stdout + result.stderr, took, still_valid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    outcome = run(int(args.minutes * 60), args.workers)
    print(outcome.output)
    print(f"contract run: {outcome.seconds:.0f} s, {json.dumps(outcome.counts)}, own key still valid: "
          f"{outcome.key_still_valid}")
    sys.exit(outcome.returncode or (0 if outcome.key_still_valid else 1))


if __name__ == "__main__":
    main()
