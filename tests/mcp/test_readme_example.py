"""The README's MCP client example, run as a reader would against `make run`'s server with the examples loaded."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.server import PROJECT_DIR, CatalogProcess

README = (PROJECT_DIR / "README.md").read_text()


def mcp_example() -> str:
    section = README.split("\n## Agent interface (MCP)\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_mcp_client_example_works_against_make_run() -> None:
    process = CatalogProcess()
    try:
        with process as server:
            script = mcp_example().replace("http://127.0.0.1:8000", server.url)
            result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True,
                                    env={**os.environ, "KEY": server.key}, timeout=120)
    finally:
        process.remove_data()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    version_and_tools, *search_text, validated = result.stdout.splitlines()
    searched = "\n".join(search_text)  # the summary, then a line per result's track record
    assert version_and_tools.startswith("2026-07-28 ") and "'recommend_workflow'" in version_and_tools
    assert "confident: true" in searched and "oomkill-increase-memory" in searched
    assert "Track record for signal OOMKilled" in searched and "- oomkill-increase-memory: never run for this " \
        "signal." in searched
    assert validated.startswith("Valid")
