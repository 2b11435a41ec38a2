"""Packages the real app with the real scripts, offline, once per test session."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import offline_aws_env
from tests.support.paths import ROOT


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package")
    result = subprocess.run(["bash", "scripts/package.sh"], cwd=ROOT, env=offline_aws_env(out),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"scripts/package.sh failed:\n{result.stderr[-4000:]}"
    return out


@pytest.fixture(scope="session")
def template(build_dir: Path) -> dict[str, Any]:
    return json.loads((build_dir / "template.json").read_text())
