"""`make demo` end to end: its own registry, images, database and server, every step's outcome checked
from what it prints, and nothing left behind (so it can run again)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from devtools.registry import INSTALL_HINT, registry_binary

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path.stem for path in (ROOT / "examples" / "resources").glob("*.yaml"))
PUSHED = re.compile(r"^ {6}(127\.0\.0\.1:\d+)/kubernaut-examples/([a-z0-9-]+):(\S+) +(sha256:[0-9a-f]{12})$")
REGISTERED = re.compile(r"^ {6}([a-z0-9-]+) (\S+) +([0-9a-f-]{36}) (sha256:[0-9a-f]{12}) (\w+) in [0-9.]+ s$")
SERVING = re.compile(r"serving on http://127\.0\.0\.1:(\d+)")


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    if registry_binary() is None:
        pytest.skip(INSTALL_HINT)
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "LOG_LEVEL")}
    return subprocess.run([sys.executable, "-m", "devtools.demo"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def section(output: str, number: int) -> list[str]:
    """The lines printed by step ``number``."""
    return output.split(f"\n[{number}/9] ", 1)[1].split("\n\n", 1)[0].splitlines()[1:]


def test_the_demo_succeeds(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert demo.stdout.rstrip().splitlines()[-1].startswith(
        "Done: registered, searched, validated, executed and run in the cluster.")


def test_every_example_resource_registers_with_the_digest_of_the_image_pushed_for_it(
    demo: subprocess.CompletedProcess[str],
) -> None:
    pushed = {m[2]: m[4] for line in section(demo.stdout, 2) if (m := PUSHED.match(line))}
    assert sorted(pushed) == EXAMPLES
    registered = {m[1]: (m[4], m[5]) for line in section(demo.stdout, 5) if (m := REGISTERED.match(line))}
    assert registered == {name: (digest, "succeeded") for name, digest in pushed.items()}


def test_search_validation_and_execution(demo: subprocess.CompletedProcess[str]) -> None:
    search = section(demo.stdout, 6)
    assert any(line.strip().startswith("#1 oomkill-increase-memory 1.0.0 score ") for line in search)

    validation = "\n".join(section(demo.stdout, 7))
    invalid, valid = validation.split("-> valid: false", 1)[1].split("-> valid: true", 1)
    assert "$.parameters.ADMIN_PASSWORD: 'ADMIN_PASSWORD' is not a declared parameter" in invalid
    assert "$.parameters.TARGET_DEPLOYMENT: is required" in invalid
    assert "$.parameters.MEMORY_LIMIT: must match the pattern" in invalid
    assert '"MAX_INCREASE_PERCENT": 100' in valid  # the default, applied

    lines = section(demo.stdout, 8)
    assert re.match(r"^ {6}execution [0-9a-f-]{36} pending; the PipelineRun", lines[0])
    run = yaml.safe_load(textwrap.dedent("\n".join(lines[1:])))
    assert run["apiVersion"] == "tekton.dev/v1" and run["kind"] == "PipelineRun"
    assert run["metadata"]["annotations"]["kubernaut.ai/incident-id"] == "INC-1042"
    pushed = {m[2]: (m[1], m[4]) for line in section(demo.stdout, 2) if (m := PUSHED.match(line))}
    host, digest = pushed["oomkill-increase-memory"]
    step = run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]
    assert step["image"].startswith(f"{host}/kubernaut-examples/oomkill-increase-memory:1.0.0@{digest}")
    params = {param["name"]: param["value"] for param in run["spec"]["params"]}
    assert params == {"TARGET_NAMESPACE": "payments", "TARGET_DEPLOYMENT": "payments-api", "MEMORY_LIMIT": "512Mi",
                      "MAX_INCREASE_PERCENT": "100", "DRY_RUN": "false"}  # fmt: skip
    assert sorted(env["name"] for env in step["env"]) == sorted(params)


def test_the_runner_runs_the_execution_in_the_cluster_and_its_outcome_comes_back(
    demo: subprocess.CompletedProcess[str],
) -> None:
    execution_id = re.search(r"execution ([0-9a-f-]{36}) pending", "\n".join(section(demo.stdout, 8)))
    assert execution_id
    lines = "\n".join(section(demo.stdout, 9))
    assert re.search(r"claimed by runner demo-runner; PipelineRun kubernaut-workflows/oomkill-increase-memory-"
                     + execution_id[1] + r" created \(uid [0-9a-f-]{36}\)", lines), lines
    assert "reported running" in lines
    assert re.search(rf"execution {execution_id[1]} succeeded \(reason Succeeded\); started_at \S+Z, finished_at "
                     r"\S+Z, [1-9]\d* s", lines), lines
    assert "history: pending -> pending -> running -> succeeded" in lines  # requested, claimed, running, done


def test_nothing_is_left_behind(demo: subprocess.CompletedProcess[str]) -> None:
    temp = re.search(r"\(temp folder (\S+)\)", demo.stdout)
    assert temp and not Path(temp[1]).exists()  # the embedded database's data is inside it
    ports = [int(port) for port in SERVING.findall(demo.stdout)]
    assert len(ports) == 2  # the registry and the catalog server
    ports += [int(port) for port in re.findall(r"Kubernetes API server \(cluster demo-cluster\) on "
                                               r"http://127\.0\.0\.1:(\d+)", demo.stdout)]
    assert len(ports) == 3  # and the in-memory cluster
    for port in ports:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
