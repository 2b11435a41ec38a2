"""``python -m watcher`` as a process: configuration errors, health endpoints, JSON logs, SIGTERM.

The API server is scripted with pytest-httpserver (no kube-apiserver can run here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from devtools.registry import free_port
from tests.support.fake_api import Script, Store, serve, wait_until
from tests.support.fake_catalog import FakeCatalog
from tests.support.paths import ROOT
from tests.support.watcher_process import kubeconfig, probe


def test_bad_configuration_stops_start_up_naming_the_variable() -> None:
    env = {"PATH": os.environ["PATH"], "CATALOG_URL": "catalog.internal"}
    result = subprocess.run([sys.executable, "-m", "watcher"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "CATALOG_URL" in result.stderr


@pytest.mark.parametrize(
    ("kubeconfig", "says"),
    [(None, "set KUBECONFIG to a kubeconfig file, or run the watcher in a pod"),
     ("missing", "is not a usable kubeconfig file"), ("garbage", "is not a usable kubeconfig file")],
)
def test_without_a_cluster_to_watch_one_line_says_how_to_configure_it(
    kubeconfig: str | None, says: str, key_file: Path, tmp_path: Path
) -> None:
    # No in-cluster variables (KUBERNETES_SERVICE_HOST/PORT) either: a developer's shell outside a cluster.
    env = {"PATH": os.environ["PATH"], "CATALOG_URL": "https://catalog.example", "CATALOG_API_KEY_FILE": str(key_file)}
    if kubeconfig is not None:
        path = tmp_path / kubeconfig
        if kubeconfig == "garbage":
            path.write_text("clusters: [\n")
        env["KUBECONFIG"] = str(path)
    result = subprocess.run([sys.executable, "-m", "watcher"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("configuration error: ") and says in line
    if kubeconfig is not None:
        assert env["KUBECONFIG"] in line
    assert result.stdout == ""


def test_runs_serves_probes_logs_json_and_stops_on_sigterm(
    tmp_path: Path, kube_server: HTTPServer, catalog_server: HTTPServer, key_file: Path
) -> None:
    store = Store()
    script = Script([lambda request: store.list_answer()])
    serve(kube_server, store, script)
    FakeCatalog().serve(catalog_server)
    port = free_port()
    # The runner's own process tests are in test_runner_process.py (this API server scripts resources only).
    env = {"PATH": os.environ["PATH"], "CATALOG_URL": catalog_server.url_for(""), "RUNNER_ENABLED": "false",
           "CATALOG_API_KEY_FILE": str(key_file), "HEALTH_PORT": str(port),
           "KUBECONFIG": str(kubeconfig(tmp_path / "kubeconfig", kube_server.url_for("").rstrip("/")))}
    process = subprocess.Popen([sys.executable, "-m", "watcher"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: probe(port, "/readyz") == 200, timeout=30)
        assert probe(port, "/healthz") == 200
        assert probe(port, "/nope") == 404
        # The watcher authenticates to the API server with the kubeconfig's credentials.
        assert kube_server.log[0][0].headers["Authorization"] == "Bearer kube-token"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
    finally:
        script.released.set()
        if process.poll() is None:
            process.kill()
        stdout, _ = process.communicate(timeout=10)
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert messages[0] == "watcher started" and "stopped" in messages
    assert all({"timestamp", "level", "service", "message"} <= set(line) for line in lines)
    assert not any("rwc_test_key" in line for line in stdout.splitlines())

