"""The watcher's manifests: valid Kubernetes objects, least-privilege RBAC, a locked-down Deployment, and
the kustomization that installs them (`kubectl apply -k watcher/deploy`), rendered by kubectl itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from watcher.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "watcher" / "deploy"
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())


class _Response:
    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body)


def manifests() -> list[dict[str, Any]]:
    """The source manifests the kustomization lists (the rendering is checked below, where kubectl exists)."""
    return [doc for name in KUSTOMIZATION["resources"] for doc in yaml.safe_load_all((DEPLOY / name).read_text())
            if doc]


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    """The manifests by kind, and by ``kind/name`` where a kind comes more than once."""
    docs = manifests()
    kinds = [doc["kind"] for doc in docs]
    return {doc["kind"] if kinds.count(doc["kind"]) == 1 else f"{doc['kind']}/{doc['metadata']['name']}": doc
            for doc in docs}


def settings() -> dict[str, str]:
    """The settings the configMapGenerator gives the container as environment variables."""
    (generator,) = KUSTOMIZATION["configMapGenerator"]
    return dict(literal.split("=", 1) for literal in generator["literals"])


SYSTEM = KUSTOMIZATION["configMapGenerator"][0]["namespace"]  # where the watcher runs
RUN_NAMESPACE = settings()["RUN_NAMESPACE"]
WATCHER = "remediation-workflow-watcher"


def granted(cluster_role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in cluster_role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


LEAST_PRIVILEGE = {("kubernaut.ai", "remediationworkflows", verb) for verb in ("get", "list", "watch")} | {
    ("kubernaut.ai", "remediationworkflows/status", "patch"), ("", "events", "create")}
RUNNER_PRIVILEGE = {("tekton.dev", "pipelineruns", verb) for verb in ("create", "get", "list", "watch")} | {
    ("", "secrets", "create"), ("", "secrets", "patch"), ("", "events", "create")}


def test_every_manifest_is_a_valid_kubernetes_object() -> None:
    api = kubernetes.client.ApiClient()
    for doc in manifests():
        model = api.deserialize(_Response(doc), f"V1{doc['kind']}")
        # Round trip through the client's models: a misspelt field would be dropped here.
        assert api.sanitize_for_serialization(model) == doc, doc["kind"]


def test_rbac_allows_reading_the_resources_patching_their_status_and_recording_events_only(
    documents: dict[str, dict[str, Any]]
) -> None:
    watcher = documents[f"ClusterRole/{WATCHER}"]
    assert granted(watcher) == LEAST_PRIVILEGE  # nothing cluster-wide beyond the resources (and their Events)
    binding = documents["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == watcher["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": documents["ServiceAccount"]["metadata"]["name"],
                                    "namespace": documents["ServiceAccount"]["metadata"]["namespace"]}]


def test_the_runners_role_is_least_privilege_and_only_in_the_run_namespace(
    documents: dict[str, dict[str, Any]]
) -> None:
    role, binding = documents["Role"], documents["RoleBinding"]
    assert granted(role) == RUNNER_PRIVILEGE  # no Secret reads, no deletes, nothing about other kinds
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == RUN_NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": WATCHER, "namespace": SYSTEM}]
    assert documents[f"Namespace/{RUN_NAMESPACE}"]["kind"] == "Namespace"  # created by the same apply
    # The watcher's account is bound to nothing else.
    bindings = [doc for doc in documents.values() if doc["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert len(bindings) == 2


def test_people_get_the_resources_through_the_aggregated_view_edit_and_admin_roles(
    documents: dict[str, dict[str, Any]]
) -> None:
    view, edit = documents["ClusterRole/remediationworkflows-view"], documents["ClusterRole/remediationworkflows-edit"]
    assert granted(view) == {("kubernaut.ai", "remediationworkflows", verb) for verb in ("get", "list", "watch")}
    assert granted(edit) == {("kubernaut.ai", "remediationworkflows", verb)
                             for verb in ("create", "update", "patch", "delete")}
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {key[len(aggregate):] for key, value in view["metadata"]["labels"].items()
            if key.startswith(aggregate) and value == "true"} == {"view"}
    assert {key[len(aggregate):] for key, value in edit["metadata"]["labels"].items()
            if key.startswith(aggregate) and value == "true"} == {"edit", "admin"}
    # Aggregation only: no binding hands these to anyone.
    assert all(doc.get("roleRef", {}).get("name") not in ("remediationworkflows-view", "remediationworkflows-edit")
               for doc in documents.values())


def test_deployment_is_locked_down_and_probed(documents: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == documents["ServiceAccount"]["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["limits"]) and container["resources"]["requests"]

    assert container["envFrom"] == [{"configMapRef": {"name": KUSTOMIZATION["configMapGenerator"][0]["name"]}}]
    env = {**settings(), **{item["name"]: item["value"] for item in container["env"]}}
    health_port = int(env["HEALTH_PORT"])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert ports["health"] == health_port

    # The key file lies inside the read-only Secret mount, readable by the pod's group.
    (mount,) = container["volumeMounts"]
    (volume,) = pod["volumes"]
    assert env["CATALOG_API_KEY_FILE"].startswith(mount["mountPath"] + "/") and mount["readOnly"] is True
    assert volume["name"] == mount["name"]
    # The Secret the documented command creates, in the namespace the kustomization installs into, holding
    # the key under the file name the watcher reads.
    created = re.search(r"kubectl -n (\S+) create secret generic (\S+) --from-file=([\w.-]+)=",
                        (ROOT / "docs" / "watcher.md").read_text())
    assert created is not None
    assert (created[1], created[2], created[3]) == (documents["Deployment"]["metadata"]["namespace"],
                                                    volume["secret"]["secretName"],
                                                    env["CATALOG_API_KEY_FILE"].rsplit("/", 1)[1])
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]

    # The environment is one the watcher accepts (with the key file where the Secret would be).
    key = tmp_path / "api-key"
    key.write_text("k")
    config = load_config({**env, "CATALOG_API_KEY_FILE": str(key)})
    assert config.health_port == health_port
    assert (config.runner_enabled, config.run_namespace, config.runner_concurrency) == (True, RUN_NAMESPACE, 4)


def test_container_image_runs_as_the_deployments_non_root_user(documents: dict[str, dict[str, Any]]) -> None:
    recipe = (ROOT / "watcher" / "Containerfile").read_text()
    assert re.search(r"^FROM python:3\.12-slim$", recipe, re.MULTILINE)
    user = re.search(r"^USER (\d+):(\d+)$", recipe, re.MULTILINE)
    assert user is not None
    pod_security = documents["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    assert (int(user[1]), int(user[2])) == (pod_security["runAsUser"], pod_security["runAsGroup"])
    assert 'ENTRYPOINT ["python", "-m", "watcher"]' in recipe


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    """What `kubectl apply -k watcher/deploy` applies, in order, as kubectl's own kustomize renders it."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        message = "kubectl not found: scripts/bootstrap.sh --registry installs Debian's kubernetes-client"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_kustomize_renders_the_namespaces_first_rbac_and_the_deployment_and_no_secret(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    api = kubernetes.client.ApiClient()
    for doc in rendered:  # valid objects: nothing lost in a round trip through the client's models
        assert api.sanitize_for_serialization(api.deserialize(_Response(doc), f"V1{doc['kind']}")) == doc
    names = sorted((doc["kind"], doc["metadata"]["name"]) for doc in rendered)
    config_map_name = next(name for kind, name in names if kind == "ConfigMap")
    assert names == [("ClusterRole", WATCHER), ("ClusterRole", "remediationworkflows-edit"),
                     ("ClusterRole", "remediationworkflows-view"), ("ClusterRoleBinding", WATCHER),
                     ("ConfigMap", config_map_name), ("Deployment", WATCHER), ("Namespace", SYSTEM),
                     ("Namespace", RUN_NAMESPACE), ("Role", "remediation-workflow-runner"),
                     ("RoleBinding", "remediation-workflow-runner"), ("ServiceAccount", WATCHER)]
    by_kind = {doc["kind"]: doc for doc in rendered}
    # The namespaces are created before anything is put into them.
    assert {doc["kind"] for doc in rendered[:2]} == {"Namespace"}
    # Each object in its namespace: the runner's Role where the runs are, everything else with the watcher.
    for doc in rendered:
        if doc["kind"] in ("Role", "RoleBinding"):
            assert doc["metadata"]["namespace"] == RUN_NAMESPACE, doc["kind"]
        elif doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == SYSTEM, doc["kind"]

    # Least privilege, bound to the watcher's ServiceAccount only.
    watcher_role = next(doc for doc in rendered if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == WATCHER)
    assert granted(watcher_role) == LEAST_PRIVILEGE and granted(by_kind["Role"]) == RUNNER_PRIVILEGE
    account = by_kind["ServiceAccount"]["metadata"]
    for binding in (by_kind["ClusterRoleBinding"], by_kind["RoleBinding"]):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"],
                                        "namespace": account["namespace"]}]

    # No Secret: the key is the user's, so applying can never put a placeholder over it.
    assert "Secret" not in by_kind

    # The image and the settings come from the kustomization, and nowhere else.
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (image,) = KUSTOMIZATION["images"]
    assert container["image"] == f"{image['newName']}:{image['newTag']}"
    config_map = by_kind["ConfigMap"]
    assert container["envFrom"] == [{"configMapRef": {"name": config_map["metadata"]["name"]}}]
    assert config_map["data"] == settings()
    key = tmp_path / "api-key"
    key.write_text("k")
    env = {**config_map["data"], **{item["name"]: item["value"] for item in container["env"]}}
    config = load_config({**env, "CATALOG_API_KEY_FILE": str(key)})
    assert config.catalog_url == settings()["CATALOG_URL"] and config.run_namespace == RUN_NAMESPACE
