"""The RemediationWorkflow CRD as the catalog's contract for resources: read from ``crds/`` once.

One source of truth for what a valid resource is: the ``openAPIV3Schema`` of the served version in
crds/remediationworkflow.yaml, evaluated with jsonschema after dropping the Kubernetes-only
``x-kubernetes-*`` extensions and mapping OpenAPI's ``nullable``. Its regular expressions are
explained to operators with the field's own description instead of being quoted raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.domain.contracts import Contract
from chalicelib.domain.resource import API_VERSION

CRD_FILE = "remediationworkflow.yaml"
# The packaged Lambda has no repository root: scripts/package.sh copies crds/ into chalicelib/crds/.
CRD_DIRS = (Path(__file__).resolve().parents[1] / "crds", Path(__file__).resolve().parents[2] / "crds")
LABEL_VALUE_MESSAGE = "must be a non-empty string, or a non-empty list of non-empty strings (128 characters at most)"


@cache
def resource_contract() -> Contract:
    """The contract of a RemediationWorkflow object (the CRD's schema for the served version)."""
    import yaml

    path = next((d / CRD_FILE for d in CRD_DIRS if (d / CRD_FILE).is_file()), None)
    if path is None:
        raise RuntimeError(f"the CRD {CRD_FILE} is missing (looked in {', '.join(map(str, CRD_DIRS))})")
    crd = yaml.safe_load(path.read_text())
    served = [
        v for v in crd["spec"]["versions"] if v.get("served") and f"{crd['spec']['group']}/{v['name']}" == API_VERSION
    ]
    schema = explained(openapi_to_json_schema(served[0]["schema"]["openAPIV3Schema"]))
    labels = schema["properties"]["spec"]["properties"]["labels"]
    labels["additionalProperties"]["x-message"] = LABEL_VALUE_MESSAGE
    return Contract("RemediationWorkflow", schema, detail="The resource does not satisfy the RemediationWorkflow CRD; "
                                                          "see errors.")


def openapi_to_json_schema(node: Any) -> Any:
    """Maps the few OpenAPI-v3-only keywords of a structural schema to JSON Schema."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    mapped = {key: openapi_to_json_schema(value) for key, value in node.items() if not key.startswith("x-kubernetes-")}
    if mapped.pop("nullable", False) and "type" in mapped:
        mapped["type"] = [mapped["type"], "null"]
    return mapped


def explained(node: Any) -> Any:
    """Gives every ``pattern`` a message in words: the field's own description instead of the expression."""
    if isinstance(node, list):
        return [explained(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: explained(value) for key, value in node.items()}
    if "pattern" in result:
        first = str(result.get("description", "")).split(";")[0].split(". ")[0].strip().rstrip(".")
        result["x-message"] = f"does not have the expected format{': ' + first if first else ''}"
    return result
