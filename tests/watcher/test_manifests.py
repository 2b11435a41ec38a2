"""The watcher's manifests: valid Kubernetes objects, least-privilege RBAC, a locked-down Deployment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from watcher.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "watcher" / "deploy"


class _Response:
    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    docs = [doc for path in sorted(DEPLOY.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return {doc["kind"]: doc for doc in docs}


def test_every_manifest_is_a_valid_kubernetes_object(documents: dict[str, dict[str, Any]]) -> None:
    api = kubernetes.client.ApiClient()
    for kind, doc in documents.items():
        model = api.deserialize(_Response(doc), f"V1{kind}")
        # Round trip through the client's models: a misspelt field would be dropped here.
        assert api.sanitize_for_serialization(model) == doc, kind


def test_rbac_allows_reading_the_resources_and_patching_their_status_only(
    documents: dict[str, dict[str, Any]]
) -> None:
    rules = documents["ClusterRole"]["rules"]
    granted = {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert granted == {("kubernaut.ai", "remediationworkflows", verb) for verb in ("get", "list", "watch")} | {
        ("kubernaut.ai", "remediationworkflows/status", "patch")}
    binding = documents["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == documents["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": documents["ServiceAccount"]["metadata"]["name"],
                                    "namespace": documents["ServiceAccount"]["metadata"]["namespace"]}]


def test_deployment_is_locked_down_and_probed(documents: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == documents["ServiceAccount"]["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["limits"]) and container["resources"]["requests"]

    env = {item["name"]: item["value"] for item in container["env"]}
    health_port = int(env["HEALTH_PORT"])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert ports["health"] == health_port

    # The key file lies inside the read-only Secret mount, readable by the pod's group.
    (mount,) = container["volumeMounts"]
    (volume,) = pod["volumes"]
    assert env["CATALOG_API_KEY_FILE"].startswith(mount["mountPath"] + "/") and mount["readOnly"] is True
    assert volume["name"] == mount["name"] and volume["secret"]["secretName"] == documents["Secret"]["metadata"]["name"]
    assert env["CATALOG_API_KEY_FILE"].rsplit("/", 1)[1] in documents["Secret"]["stringData"]
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]

    # The environment is one the watcher accepts (with the key file where the Secret would be).
    key = tmp_path / "api-key"
    key.write_text("k")
    config = load_config({**env, "CATALOG_API_KEY_FILE": str(key)})
    assert config.health_port == health_port


def test_container_image_runs_as_the_deployments_non_root_user(documents: dict[str, dict[str, Any]]) -> None:
    recipe = (ROOT / "watcher" / "Containerfile").read_text()
    assert re.search(r"^FROM python:3\.12-slim$", recipe, re.MULTILINE)
    user = re.search(r"^USER (\d+):(\d+)$", recipe, re.MULTILINE)
    assert user is not None
    pod_security = documents["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    assert (int(user[1]), int(user[2])) == (pod_security["runAsUser"], pod_security["runAsGroup"])
    assert 'ENTRYPOINT ["python", "-m", "watcher"]' in recipe
