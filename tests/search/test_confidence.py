"""`confident` in search responses, through the real API on the real database (README, "Search").

The catalog is small but realistic (runbook-style titles and descriptions); the decision comes from
the shipped model (chalicelib/domain/confidence.py), nothing here is stubbed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from tests.support.api import ApiClient
from tests.support.search import SEARCH, ids, publish, search

CATALOG = {
    "oomkill-increase-memory": (
        "Increase memory limit of OOMKilled deployment",
        "Meaning: containers of a deployment were OOMKilled because they exceeded their memory limit. "
        "Mitigation: raises the memory limit of the deployment by a step and rolls it out.", "deployment"),
    "crashloop-rollback": (
        "Kube Pod Crash Looping",
        "Meaning: a pod container is restarting repeatedly (CrashLoopBackOff). "
        "Mitigation: rolls the deployment back to the previous revision.", "deployment"),
    "node-disk-cleanup": (
        "Node Filesystem Almost Out Of Space",
        "Meaning: a node filesystem has less than 5% space left. "
        "Mitigation: removes unused container images and old logs on the node.", "node"),
    "hpa-raise-max-replicas": (
        "Kube HPA Maxed Out",
        "Meaning: a horizontal pod autoscaler has been running at its maximum replicas for 15 minutes. "
        "Mitigation: raises maxReplicas of the HPA within the namespace quota.", "deployment"),
    "certificate-renew": (
        "Kubelet Server Certificate Expiration",
        "Meaning: the server certificate of a kubelet expires soon. "
        "Mitigation: approves the pending certificate signing request of the node.", "node"),
}


def load(client: ApiClient) -> None:
    for workflow_id, (title, description, component) in CATALOG.items():
        publish(client, workflow_id, title=title, description=description, component=component)


def test_a_query_that_matches_a_workflow_is_confident(client: ApiClient) -> None:
    load(client)
    result = search(client, query="Pod checkout-7f9c in namespace shop is crash looping (CrashLoopBackOff).")
    assert ids(result)[0] == "crashloop-rollback"
    assert result["confident"] is True
    result = search(client, query="Filesystem on /dev/sda1 at 10.0.7.201:9100 has only 3.12% available space left.")
    assert ids(result)[0] == "node-disk-cleanup"
    assert result["confident"] is True


def test_a_query_about_something_the_catalog_lacks_is_not_confident(client: ApiClient) -> None:
    load(client)
    for query in ("etcd cluster has high number of leader changes.",
                  "The PersistentVolume claimed by data-loki-0 only has 2.11% free inodes.",
                  "Disk IO queue is high on nvme0n1 at 10.0.42.17:9100."):
        result = search(client, query=query)
        assert result["results"], query  # something is always ranked...
        assert result["confident"] is False, query  # ...but it does not fit


def test_no_results_is_never_confident(client: ApiClient) -> None:
    load(client)
    assert search(client, query="crash looping pod", labels={"component": "database"}) == {
        "results": [], "total": 0, "confident": False}
    assert search(client, labels={"component": "database"})["confident"] is False
    # min_score can drop every result of a query that would have been confident.
    matching = "Pod checkout-7f9c is crash looping (CrashLoopBackOff)."
    assert search(client, query=matching)["confident"] is True
    assert search(client, query=matching, min_score=1.0)["confident"] is False


def test_without_a_query_confident_means_something_matched_the_labels(client: ApiClient) -> None:
    load(client)
    result = search(client, labels={"component": "node"})
    assert sorted(ids(result)) == ["certificate-renew", "node-disk-cleanup"]
    assert result["confident"] is True
    assert client.get(SEARCH, scopes=("catalog:read",)).json["confident"] is True


def test_get_and_post_decide_alike_and_top_k_does_not_change_the_decision(client: ApiClient) -> None:
    load(client)
    for query in ("Pod checkout-7f9c is crash looping (CrashLoopBackOff).", "etcd cluster has high number of leader changes."):
        posted = search(client, query=query)
        got = client.get(f"{SEARCH}?{urlencode({'query': query})}", scopes=("catalog:read",)).json
        assert got["confident"] is posted["confident"]
        assert {search(client, query=query, top_k=k)["confident"] for k in (1, 3, 100)} == {posted["confident"]}
