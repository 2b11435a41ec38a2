"""The README's "Try the API" commands, run as a reader would against `make run`'s server with the examples
loaded: the key read from the file the server keeps it in, every curl line failing the test on an HTTP error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.support.server import PROJECT_DIR, CatalogProcess

README = (PROJECT_DIR / "README.md").read_text()
# Any answer >= 400 fails the script (the README's lines show error bodies to a reader instead).
PRELUDE = 'set -euo pipefail\ncurl() { command curl --fail-with-body -sS "$@"; echo; }\n'


def try_the_api_blocks() -> str:
    section = README.split("\n### Try the API\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(block.split("```", 1)[0] for block in section.split("```sh\n")[1:])


def run_readme_against(process: CatalogProcess) -> subprocess.CompletedProcess[str]:
    with process as server:
        key_file = server.data_dir / "dev-api-key"
        banner = "".join(server.lines())
        assert f"export KEY={key_file.read_text().strip()} " in banner and "examples: 7 created" in banner
        script = (try_the_api_blocks()
                  .replace("http://127.0.0.1:8000", server.url)
                  .replace(".var/dev-api-key", str(key_file))
                  .replace(".venv/bin/python", sys.executable))  # fmt: skip
        assert script.count("curl ") >= 12
        return subprocess.run(["bash", "-c", PRELUDE + script], cwd=PROJECT_DIR, capture_output=True, text=True,
                              timeout=120)  # fmt: skip


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_try_the_api_commands_work_against_make_run() -> None:
    process = CatalogProcess()
    process.key = ""  # DEV_API_KEY empty: the server generates the key and keeps it in its data folder
    try:
        result = run_readme_against(process)
    finally:
        process.remove_data()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    listed = next(answer for answer in answers if "items" in answer)
    assert len(listed["items"]) == 7 and {item["status"] for item in listed["items"]} == {"active"}
    assert any(answer.get("valid") is True for answer in answers)
    finished = [answer for answer in answers if answer.get("status") == "succeeded" and "execution_id" in answer]
    assert finished and finished[0]["workflow_id"] == "oomkill-increase-memory"
    approved = [answer for answer in answers if answer.get("status") == "approved"]
    assert approved and approved[0]["approval"]["reason"] == "Checked the rollout; go"
    released = [answer for answer in answers if answer.get("status") == "pending" and answer.get("pipeline_run")]
    assert released and released[0]["execution_id"] == approved[0]["execution_id"]  # the approved one, started
    stats = answers[-1]
    assert stats["workflow_id"] == "oomkill-increase-memory" and stats["versions"][0]["succeeded"] == 1
    assert '"kind": "PipelineRun"' in result.stderr  # the execution's answer, printed for the reader
