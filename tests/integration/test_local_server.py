"""`make run`'s server as a user meets it: a real process, a real port, the embedded database."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.database import embedded_data_dir

ROOT = Path(__file__).resolve().parents[2]
KEY = "rwc_test_local_server_key_0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, key: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start(data_dir: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(CATALOG_DATA_DIR=str(data_dir), DEV_API_KEY=KEY, PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        output.append(line)
        if "Serving on" in line:
            return process, "".join(output)
        if not line and process.poll() is not None:
            break
    process.kill()
    pytest.fail("server did not start:\n" + "".join(output))


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=20)


def test_serves_examples_with_the_printed_key_and_keeps_data_across_restarts() -> None:
    tmp_path = embedded_data_dir("catalog-serve-").parent
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process, banner = start(tmp_path / "var", port)
    try:
        assert KEY in banner and f"curl {base}/healthz" in banner
        assert "examples: 7 created" in banner
        assert get(f"{base}/healthz") == (200, {"status": "ok", "database": "ok"})
        status, body = get(f"{base}/api/v1/playbooks")
        assert status == 401 and body["type"].endswith("/unauthorized")
        status, body = get(f"{base}/api/v1/playbooks", KEY)
        assert status == 200 and len(body["items"]) == 7
    finally:
        stop(process)
    process, banner = start(tmp_path / "var", port)
    try:
        assert "examples: 0 created, 7 already present" in banner
        assert len(get(f"{base}/api/v1/playbooks", KEY)[1]["items"]) == 7
    finally:
        stop(process)
        shutil.rmtree(tmp_path, ignore_errors=True)
