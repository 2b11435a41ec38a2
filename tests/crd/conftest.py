"""Fixtures loading the CRD document and the sample resources from the repository."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.crd import CRD_FILE


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_FILE.read_text())


@pytest.fixture(scope="session")
def schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]
