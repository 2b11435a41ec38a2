"""Packages the real app with the real scripts, offline, once per test session."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def offline_aws_env(out: Path) -> dict[str, str]:
    """Placeholder credentials and a region: packaging and linting must not need (or find) real ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_DEFAULT_REGION="eu-west-1", AWS_ACCESS_KEY_ID="packaging-only",
               AWS_SECRET_ACCESS_KEY="packaging-only", PACKAGE_OUT=str(out))
    return env


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
