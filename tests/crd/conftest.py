"""Fixtures loading the CRD document and the sample resources from the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "remediationworkflow.yaml"
SAMPLES = sorted((ROOT / "examples" / "resources").glob("*.yaml"))
BROKEN = sorted((Path(__file__).parent / "fixtures").glob("*.yaml"))


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_FILE.read_text())


@pytest.fixture(scope="session")
def schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]
