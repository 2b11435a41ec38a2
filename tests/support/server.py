"""`make run`'s server as a separate process, for tests and benchmarks that treat it as a server.

``CatalogProcess`` runs ``python -m devserver`` with its own data folder (so its own
embedded PostgreSQL, unless ``DATABASE_URL`` is given), waits for its banner, keeps reading its
output (the lines are kept for assertions), and can be stopped gracefully or killed with SIGKILL
and started again on the same data. A data folder it created itself is its own: leaving a ``with``
block (or ``remove_data()``) stops the server and deletes it, so no run leaves a catalog behind in
the temp folder; one passed in belongs to the caller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]


class CatalogProcess:
    def __init__(self, data_dir: Path | None = None, env: dict[str, str] | None = None, key: str | None = None) -> None:
        # Outside pytest's 0700 temp root: the embedded PostgreSQL runs as another user when we are root.
        self.owns_data = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="catalog-serve-")) / "var"
        self.key = key or f"rwc_test_{uuid.uuid4().hex}"
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []
        self._lock = threading.Lock()

    def start(self, timeout: float = 120.0) -> CatalogProcess:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(CATALOG_DATA_DIR=str(self.data_dir), DEV_API_KEY=self.key, PORT="0", **self.extra_env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devserver"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = self._wait_for_banner(timeout)
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _wait_for_banner(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            self._keep(line)
            if line.startswith("Serving on "):
                return line.split()[-1]
            if not line and self.process.poll() is not None:
                break
        self.kill()
        raise RuntimeError("the server did not start:\n" + "".join(self.output[-40:]))

    def _drain(self) -> None:
        """Keeps reading the output, so the server never blocks on a full pipe."""
        process = self.process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            self._keep(line)

    def _keep(self, line: str) -> None:
        with self._lock:
            self.output.append(line)

    def lines(self) -> list[str]:
        with self._lock:
            return list(self.output)

    def lines_with(self, *needles: str, count: int = 1, timeout: float = 10.0) -> list[str]:
        """The output lines containing every needle, once at least ``count`` of them arrived (the output is
        read on a thread, so a line may come a moment after the answer)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines() if all(needle in line for needle in needles)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (Ctrl-C's path: the embedded database stops too); returns the exit code."""
        assert self.process is not None
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        """SIGKILL: nothing runs on the way out (no cleanup, jobs cut off mid-way)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> CatalogProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
        self.remove_data()

    def remove_data(self) -> None:
        """Deletes the data folder this process created (its embedded database stopped first if a kill left it
        running); a folder given by the caller is left alone."""
        if not self.owns_data:
            return
        self.kill()
        from tests.support.postgres import stop_server_in

        stop_server_in(self.data_dir / "pgdata")
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def client_for(server: CatalogProcess, key: str | None = None) -> Any:
    """bench/load.py's keep-alive HTTP client on the server, with its dev key (or ``key``)."""
    if str(PROJECT_DIR / "bench") not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR / "bench"))
    from load import Client

    return Client(server.url, key or server.key)
