"""Scores, explanations, total order, CamelCase identifiers, label boosts and determinism."""

from __future__ import annotations

from typing import Any

from tests.support.api import ApiClient
from tests.support.search import ids, publish, search

RUNBOOKS = {
    "kube-pod-crash-looping": ("KubePodCrashLooping", "A pod container is restarting repeatedly (CrashLoopBackOff)."),
    "kube-pod-not-ready": ("KubePodNotReady", "A pod has been in a non-ready state for longer than 15 minutes."),
    "node-filesystem-full": ("NodeFilesystemSpaceFillingUp", "A node filesystem is predicted to run out of space."),
    "oomkill-increase-memory": ("Increase memory limit after OOMKill",
                                "Raises the memory limit of the owning Deployment when its pods are OOMKilled."),
}


def load(client: ApiClient) -> None:
    for workflow_id, (title, description) in RUNBOOKS.items():
        publish(client, workflow_id, title=title, description=description)


def assert_well_formed(result: dict[str, Any]) -> None:
    results = result["results"]
    assert result["total"] == len(results)
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    for r in results:
        parts = r["explanation"]
        assert 0.0 <= r["score"] <= 1.0
        assert abs(parts["semantic"] + parts["text"] + parts["label_boost"] - r["score"]) < 1e-9
        assert min(parts["semantic"], parts["text"], parts["label_boost"]) >= 0.0
    assert [(-r["score"], r["workflow_id"]) for r in results] == sorted((-r["score"], r["workflow_id"]) for r in results)


def test_alert_identifiers_match_words_both_ways(client: ApiClient) -> None:
    load(client)
    plain = search(client, query="pod crash looping")
    assert ids(plain)[0] == "kube-pod-crash-looping"
    assert ids(search(client, query="KubePodCrashLooping"))[0] == "kube-pod-crash-looping"
    assert ids(search(client, query="container OOMKilled, memory limit too low"))[0] == "oomkill-increase-memory"
    assert_well_formed(plain)
    top = plain["results"][0]["explanation"]
    assert top["semantic"] > 0 and top["text"] > 0 and top["label_boost"] == 0


def test_ties_are_broken_by_workflow_id(client: ApiClient) -> None:
    for workflow_id in ("b-restart", "a-restart", "c-restart"):
        publish(client, workflow_id, title="Restart pod", description="Restarts the pod.")
    result = search(client, query="restart the pod")
    assert ids(result) == ["a-restart", "b-restart", "c-restart"]
    assert len({r["score"] for r in result["results"]}) == 1
    assert_well_formed(result)


def test_business_labels_boost_exact_over_wildcard_over_absent(client: ApiClient) -> None:
    publish(client, "generic", title="Restart pod", description="Restarts the pod.")
    publish(client, "any-category", title="Restart pod", description="Restarts the pod.", business_category="*")
    publish(client, "payments", title="Restart pod", description="Restarts the pod.", business_category="Payments")
    publish(client, "retail", title="Restart pod", description="Restarts the pod.", business_category="retail")
    with_query = search(client, query="restart pod", labels={"business_category": "payments"})
    assert ids(with_query) == ["payments", "any-category", "generic"]
    boosts = [r["explanation"]["label_boost"] for r in with_query["results"]]
    assert boosts == [0.1, 0.05, 0.0]
    assert [r["explanation"]["matched_labels"] for r in with_query["results"]] == [
        ["business_category"], ["business_category"], []]
    assert_well_formed(with_query)
    # Without a query the label matches alone rank, with the full weight.
    no_query = search(client, labels={"business_category": "PAYMENTS"})
    assert ids(no_query) == ["payments", "any-category", "generic"]
    assert [r["score"] for r in no_query["results"]] == [1.0, 0.5, 0.0]
    assert_well_formed(no_query)


def test_min_score_drops_weaker_results(client: ApiClient) -> None:
    load(client)
    everything = search(client, query="pod crash looping", top_k=100)["results"]
    cut = everything[1]["score"]
    kept = search(client, query="pod crash looping", top_k=100, min_score=cut)["results"]
    assert [r["workflow_id"] for r in kept] == [r["workflow_id"] for r in everything if r["score"] >= cut]
    assert all(r["score"] >= cut for r in kept) and len(kept) < len(everything)


def test_same_request_same_answer(client: ApiClient) -> None:
    load(client)
    first = search(client, query="pod is not ready", top_k=3)
    assert all(search(client, query="pod is not ready", top_k=3) == first for _ in range(3))


def test_query_without_any_word_still_ranks_by_text_and_labels(client: ApiClient) -> None:
    load(client)
    result = search(client, query="42 %", top_k=100)
    assert_well_formed(result)
    assert all(r["explanation"]["semantic"] == 0 for r in result["results"])
