"""A real Alertmanager on loopback (Debian's ``prometheus-alertmanager`` 0.25), sending its webhook
notifications to the catalog.

``start_alertmanager(url, key_file, receiver)`` writes a configuration whose only receiver is a ``webhook_configs``
entry for ``url`` (send_resolved, the bearer key read from ``key_file``: the configuration
docs/operations.md gives operators) with group_wait and group_interval of 1 s, runs Alertmanager without
clustering (``--cluster.listen-address=``) and with its own storage folder, waits until it is ready, and
stops it and deletes the folder when the block ends. ``bash scripts/bootstrap.sh --alertmanager`` (part of
``make setup-test``) installs it; the fixtures skip when it is missing, and fail when ``CI`` is set.

``Relay`` stands between Alertmanager and the catalog when a test needs the exact bytes Alertmanager sent.
``wait_until`` waits for what Alertmanager's notifications make happen (they arrive about 2 s after a post).
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.registry import free_port

WAIT_SECONDS = 20.0
BINARY = "prometheus-alertmanager"
INSTALL_HINT = f"{BINARY} is not installed: run `bash scripts/bootstrap.sh --alertmanager` (make setup-test does)"
GROUP_BY = ("alertname", "namespace")


def require_alertmanager() -> str:
    """The binary's path; skips the test when it is missing (fails under CI, which installs it)."""
    binary = shutil.which(BINARY)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    return binary


def _config(url: str, key_file: Path, receiver: str) -> str:
    return f"""\
route:
  receiver: {receiver}
  group_by: [{", ".join(GROUP_BY)}]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: {receiver}
    webhook_configs:
      - url: {url}
        send_resolved: true
        max_alerts: 1000
        http_config:
          authorization:
            type: Bearer
            credentials_file: {key_file}
"""


@dataclass
class LocalAlertmanager:
    base_url: str  # http://127.0.0.1:<port>

    def post(self, *alerts: dict[str, Any]) -> None:
        """Sends alerts as Prometheus does (its v2 API): each ``{"labels", "annotations"?, "startsAt"?,
        "endsAt"?}``; an ``endsAt`` in the past resolves the alert."""
        response = requests.post(f"{self.base_url}/api/v2/alerts", json=list(alerts), timeout=10)
        assert response.status_code == 200, response.text

    def resolve(self, *alert_labels: dict[str, str]) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.post(*({"labels": labels, "endsAt": now} for labels in alert_labels))

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds (with their fingerprints and startsAt)."""
        response = requests.get(f"{self.base_url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        return list(response.json())


@contextmanager
def start_alertmanager(webhook_url: str, key_file: Path, receiver: str = "catalog", startup_timeout: float = 20.0
                       ) -> Iterator[LocalAlertmanager]:
    binary = require_alertmanager()
    with tempfile.TemporaryDirectory(prefix="alertmanager-") as tmp:
        root = Path(tmp)
        config = root / "alertmanager.yml"
        config.write_text(_config(webhook_url, key_file, receiver))
        port = free_port()
        log_path = root / "alertmanager.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.path={root / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                base_url = f"http://127.0.0.1:{port}"
                _wait_ready(base_url, process, startup_timeout, log_path)
                yield LocalAlertmanager(base_url)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{BINARY} exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{base_url}/-/ready", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{BINARY} was not ready within {timeout}s: {log.read_text()[-2000:]}")


@dataclass
class Delivery:
    body: bytes
    authorization: str
    status: int  # what the catalog answered


@dataclass
class Relay:
    """A loopback HTTP server that forwards each POST to ``target`` (headers and body as received) and keeps
    what was sent and what the catalog answered, so a test can send Alertmanager's exact bytes again."""

    target: str  # the catalog's webhook URL
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                authorization = self.headers.get("Authorization", "")
                answer = requests.post(relay.target, data=body, timeout=30, headers={
                    "Content-Type": self.headers.get("Content-Type", ""), "Authorization": authorization})
                relay.deliveries.append(Delivery(body, authorization, answer.status_code))
                self.send_response(answer.status_code)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/relay"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_until(condition: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    """``condition()``'s first truthy answer, asked every 0.1 s (Alertmanager sends in about 2 s); AssertionError
    naming ``what`` when none comes within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"within {seconds} s: {what}")
