"""The CRD document is a valid apiextensions.k8s.io/v1 object a real cluster would accept."""

from __future__ import annotations

import json
from typing import Any

import kubernetes.client
import pytest

from tests.support.structural import structural_errors


class _Response:
    """What ApiClient.deserialize reads: the JSON body of an API response."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body)


@pytest.fixture(scope="module")
def api_client() -> kubernetes.client.ApiClient:
    return kubernetes.client.ApiClient()


def test_loads_as_a_custom_resource_definition(crd: dict[str, Any], api_client: kubernetes.client.ApiClient) -> None:
    model = api_client.deserialize(_Response(crd), "V1CustomResourceDefinition")
    assert isinstance(model, kubernetes.client.V1CustomResourceDefinition)
    assert model.spec.group == "kubernaut.ai"
    assert model.spec.scope == "Namespaced"
    assert model.spec.names.kind == "RemediationWorkflow"
    assert model.spec.names.plural == "remediationworkflows"
    assert model.spec.names.singular == "remediationworkflow"
    assert model.spec.names.short_names == ["rw"]
    assert model.metadata.name == "remediationworkflows.kubernaut.ai"
    (version,) = model.spec.versions
    assert (version.name, version.served, version.storage) == ("v1alpha1", True, True)
    assert version.subresources.status == {}


def test_round_trips_through_the_client_models_without_losing_a_key(
    crd: dict[str, Any], api_client: kubernetes.client.ApiClient
) -> None:
    # The models keep only fields apiextensions knows, so a misspelt keyword (maxlength, x-kubernetes-list-map-key,
    # jsonpath) would vanish here exactly as the API server would drop it.
    model = api_client.deserialize(_Response(crd), "V1CustomResourceDefinition")
    assert api_client.sanitize_for_serialization(model) == crd


def test_printer_columns_answer_did_it_register(crd: dict[str, Any]) -> None:
    (version,) = crd["spec"]["versions"]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    default_columns = [name for name, c in columns.items() if not c.get("priority")]
    assert default_columns == ["Workflow", "Version", "Phase", "Digest", "Age"]
    assert columns["Phase"]["jsonPath"] == ".status.phase"
    assert columns["Digest"]["jsonPath"] == ".status.shortDigest"
    assert columns["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    for column in columns.values():
        path = column["jsonPath"].lstrip(".").split(".")
        if path[0] == "status":
            assert path[1] in status, f"column {column['name']} reads an undeclared status field"


def test_schema_is_structural(schema: dict[str, Any]) -> None:
    assert structural_errors(schema) == []


def test_status_has_the_documented_fields(schema: dict[str, Any]) -> None:
    status = schema["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == ["Pending", "Registered", "Failed", "Disabled"]
    for field in ("observedGeneration", "registrationId", "imageDigest", "catalogVersion", "message", "conditions"):
        assert field in status
    condition = status["conditions"]["items"]
    assert condition["required"] == ["type", "status", "lastTransitionTime", "reason", "message"]
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]


def test_enabled_defaults_to_true(schema: dict[str, Any]) -> None:
    assert schema["properties"]["spec"]["properties"]["enabled"]["default"] is True
