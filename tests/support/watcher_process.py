"""``python -m watcher`` as a real process for the tests: its environment, its probes, its JSON log lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests
import yaml

from devtools.registry import free_port
from tests.support.paths import ROOT


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "users": [{"name": "test", "user": {"token": "kube-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
    }))
    return path


def probe(port: int, path: str) -> int | None:
    try:
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code
    except requests.RequestException:
        return None


class WatcherProcess:
    """One ``python -m watcher``; its stdout goes to a file, so a killed process's lines are kept."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.env = {"PATH": os.environ["PATH"], **env, "HEALTH_PORT": str(self.port)}
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115  (read after the process ended, or was killed)
        self.process = subprocess.Popen([sys.executable, "-m", "watcher"], cwd=ROOT, env=self.env, stdout=self._out,
                                        stderr=subprocess.STDOUT, text=True)

    def kill(self) -> None:
        """``kill -9``: nothing runs after it, not even a log line."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def output(self) -> str:
        self._out.seek(0)
        return self._out.read()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]
