"""The CRD document, the sample resources and the broken ones the CRD must refuse."""

from __future__ import annotations

from tests.support.paths import ROOT

CRD_FILE = ROOT / "crds" / "remediationworkflow.yaml"
SAMPLES = sorted((ROOT / "examples" / "resources").glob("*.yaml"))
BROKEN = sorted((ROOT / "tests" / "crd" / "fixtures").glob("*.yaml"))
