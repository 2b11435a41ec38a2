"""Recommendations (README, "Recommendations"): agents post what the catalog lacks, repeats of an open one are
counted on it, operators list them by occurrences and accept or dismiss them; every change is audited."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from chalicelib.container import services
from chalicelib.domain.recommendations import parse_new_recommendation
from tests.support.api import ApiClient
from tests.support.catalog import create, problem_type
from tests.support.recommendations import POST_SCOPE, RECOMMENDATIONS, recommendation

READ = ("catalog:read",)
DECIDE = ("catalog:write",)


def post(client: ApiClient, body: dict[str, Any]) -> Any:
    return client.post(RECOMMENDATIONS, body, scopes=POST_SCOPE)


def table_counts(db: Any) -> tuple[int, int, int]:
    with db.reading() as cur:
        counts = []
        for table in ("recommendations", "recommendation_incidents", "recommendation_events"):
            cur.execute(f"SELECT count(*) AS n FROM {table}")
            counts.append(cur.fetchone()["n"])
        return counts[0], counts[1], counts[2]


def test_a_new_recommendation_is_open_with_one_occurrence_and_its_incident(client: ApiClient) -> None:
    response = post(client, recommendation())
    assert response.status == 201, response
    body = response.json
    uuid.UUID(body["recommendation_id"])
    assert (body["status"], body["occurrences"], body["signal_type"], body["component"]) == (
        "open", 1, "OOMKilled", "deployment")
    assert body["proposed_steps"] == ["Capture a heap dump of the leaking pod", "Restart the deployment"]
    assert [i["incident"]["id"] for i in body["incidents"]] == ["INC-1"]
    assert body["workflow_id"] is None
    assert [(c["from"], c["to"]) for c in body["status_changes"]] == [(None, "open")]
    assert client.get(f"{RECOMMENDATIONS}/{body['recommendation_id']}", scopes=READ).json == body


def test_a_repeat_of_an_open_recommendation_is_counted_on_it(client: ApiClient) -> None:
    first = post(client, recommendation(incident_id="INC-1", confidence=0.6)).json
    again = post(client, recommendation(
        "Capture a heap dump and restart deployments that leak memory until OOMKilled", incident_id="INC-2",
        confidence=0.9))
    assert again.status == 200, again
    body = again.json
    assert body["recommendation_id"] == first["recommendation_id"]
    assert body["occurrences"] == 2
    assert [i["incident"]["id"] for i in body["incidents"]] == ["INC-2", "INC-1"]  # newest first
    assert body["summary"] == first["summary"]  # the recommendation keeps its wording; each post keeps its own
    assert body["incidents"][0]["summary"].startswith("Capture a heap dump")
    assert body["confidence"] == 0.9  # the highest any post gave


def test_the_same_incident_posting_again_counts_once(client: ApiClient) -> None:
    first = post(client, recommendation()).json
    retry = post(client, recommendation())
    assert retry.status == 200
    assert (retry.json["recommendation_id"], retry.json["occurrences"]) == (first["recommendation_id"], 1)
    assert len(retry.json["incidents"]) == 1


# Same group (signal_type OOMKilled, component deployment), summaries that say the same thing: case,
# punctuation, plurals and tenses, word order, filler words, CamelCase and hyphens do not matter.
NEAR_DUPLICATES = [
    ("Restart the deployment with a heap dump when a memory leak causes OOMKills",
     "Capture a heap dump and restart deployments that leak memory until OOMKilled"),
    ("Scale out the payments API when CPU throttling", "Scale-out payments-api on CPU throttling"),
    ("No workflow exists to raise the memory limit for the JVM", "Need a workflow that raises the JVM memory limit"),
    ("Drain and cordon the node", "Cordon the node, then drain it"),
    ("Increase the memory limit of the deployment", "INCREASE THE MEMORY LIMIT OF THE DEPLOYMENT."),
    ("Restart pods stuck in CrashLoopBackOff after a config change", "restart crash-looping pods after config changes"),
    ("Raise the memory limit of the OOMKilled deployment by 50%", "Raise memory limits by 50 percent for OOMKilled deployments"),
    ("Rotate the expired TLS certificate of the ingress", "Renew and rotate expired TLS certificates on the ingress"),
    ("Clean up old container images to free node disk space", "Free disk space on the node by pruning old container images"),
]
# Same group, different remediations: a different action, target or direction is another recommendation.
DIFFERENT = [
    ("Raise the memory limit of the deployment", "Restart the deployment with a heap dump"),
    ("Roll back to the previous image", "Scale out replicas to absorb the load"),
    ("Clear the disk cache on the node", "Clear the DNS cache on the node"),
    ("Increase the memory limit", "Decrease the memory limit"),
    ("Restart the pod", "Delete the pod"),
    ("Scale out the deployment to absorb traffic", "Scale in the deployment to save cost"),
    ("Rotate the expired TLS certificate of the ingress", "Restart the ingress controller pods"),
    ("Raise the memory limit of the OOMKilled deployment by 50%", "Raise the CPU limit of the throttled deployment"),
    ("Clean up old container images to free node disk space", "Clean up old log files to free node disk space"),
]


@pytest.mark.parametrize(("first", "second"), NEAR_DUPLICATES)
def test_summaries_saying_the_same_thing_are_one_recommendation(client: ApiClient, first: str, second: str) -> None:
    one = post(client, recommendation(first, incident_id="INC-1")).json
    two = post(client, recommendation(second, incident_id="INC-2"))
    assert two.status == 200, (first, second)
    assert (two.json["recommendation_id"], two.json["occurrences"]) == (one["recommendation_id"], 2)


@pytest.mark.parametrize(("first", "second"), DIFFERENT)
def test_summaries_saying_different_things_are_two_recommendations(client: ApiClient, first: str, second: str) -> None:
    one = post(client, recommendation(first, incident_id="INC-1")).json
    two = post(client, recommendation(second, incident_id="INC-2"))
    assert two.status == 201, (first, second)
    assert two.json["recommendation_id"] != one["recommendation_id"]


@pytest.mark.parametrize("incident", [
    {"signal_type": "KubePodCrashLooping"},  # another signal
    {"component": "statefulset"},  # another component
    {"component": None},  # no component is its own group
])
def test_the_same_summary_for_another_signal_or_component_is_another_recommendation(
        client: ApiClient, incident: dict[str, Any]) -> None:
    post(client, recommendation("Restart the workload with a heap dump"))
    other = recommendation("Restart the workload with a heap dump", incident_id="INC-2")
    other["incident"].update({k: v for k, v in incident.items() if v is not None})
    if incident.get("component", "") is None:
        del other["incident"]["component"]
    assert post(client, other).status == 201


def test_signal_type_and_component_are_compared_without_case_or_spaces(client: ApiClient) -> None:
    post(client, recommendation(signal_type="OOMKilled", component="deployment"))
    again = post(client, recommendation(incident_id="INC-2", signal_type=" oomkilled ", component="Deployment"))
    assert (again.status, again.json["occurrences"]) == (200, 2)


def test_a_decided_recommendation_is_not_repeated_a_new_post_opens_a_new_one(client: ApiClient) -> None:
    first = post(client, recommendation()).json
    dismissed = client.patch(f"{RECOMMENDATIONS}/{first['recommendation_id']}",
                             {"status": "dismissed", "reason": "Handled by the platform team manually"}, scopes=DECIDE)
    assert dismissed.status == 200, dismissed
    again = post(client, recommendation(incident_id="INC-2"))
    assert again.status == 201 and again.json["recommendation_id"] != first["recommendation_id"]


def test_concurrent_repeats_never_open_two(db: Any) -> None:
    """Eight agents post the same gap at the same moment: one recommendation, eight occurrences."""
    service = services().recommendations
    barrier = threading.Barrier(8)
    outcomes: list[bool] = []
    errors: list[BaseException] = []

    def agent(n: int) -> None:
        new = parse_new_recommendation(recommendation(incident_id=f"INC-{n}"))
        try:
            barrier.wait(timeout=10)
            outcomes.append(service.recommend(new, f"agent-{n}").created)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(outcomes) == [False] * 7 + [True]
    assert table_counts(db)[:2] == (1, 8)
    page = service.list_page("open", 10, None)
    assert [row["occurrences"] for row in page.items] == [8]


def test_the_list_is_by_occurrences_with_a_total_order_across_pages(client: ApiClient) -> None:
    summaries = ["Drain and cordon the node", "Rotate the expired TLS certificate of the ingress",
                 "Clean up old container images to free node disk space", "Raise the CPU limit of the deployment",
                 "Pause the deployment rollout"]
    counts = [1, 3, 2, 3, 1]
    for summary, count in zip(summaries, counts, strict=True):
        for n in range(count):
            assert post(client, recommendation(summary, incident_id=f"{summary[:5]}-{n}")).status in (200, 201)
    seen: list[tuple[int, str]] = []
    cursor = None
    while True:
        path = f"{RECOMMENDATIONS}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(path, scopes=READ)
        assert page.status == 200, page
        seen += [(item["occurrences"], item["summary"]) for item in page.json["items"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    # most occurrences first; equal counts oldest first; nothing skipped or repeated
    assert seen == [(3, summaries[1]), (3, summaries[3]), (2, summaries[2]), (1, summaries[0]), (1, summaries[4])]
    assert client.get(f"{RECOMMENDATIONS}?status=accepted", scopes=READ).json == {"items": [], "next_cursor": None}


def test_accepting_links_a_registered_workflow_and_is_audited(client: ApiClient) -> None:
    rec = post(client, recommendation()).json
    path = f"{RECOMMENDATIONS}/{rec['recommendation_id']}"
    missing = client.patch(path, {"status": "accepted", "reason": "Registered", "workflow_id": "no-such-workflow"},
                           scopes=DECIDE)
    assert (missing.status, problem_type(missing)) == (400, "validation-error")
    assert missing.json["errors"][0]["path"] == "$.workflow_id"
    without = client.patch(path, {"status": "accepted", "reason": "Registered"}, scopes=DECIDE)
    assert without.status == 400 and without.json["errors"][0]["path"] == "$.workflow_id"
    assert client.get(path, scopes=READ).json["status"] == "open"  # nothing changed
    create(client, "1.0.0")
    accepted = client.patch(path, {"status": "accepted", "reason": "Registered oomkill-increase-memory for it",
                                   "workflow_id": "oomkill-increase-memory"}, scopes=DECIDE)
    assert accepted.status == 200, accepted
    body = accepted.json
    assert (body["status"], body["workflow_id"]) == ("accepted", "oomkill-increase-memory")
    change = body["status_changes"][-1]
    assert (change["from"], change["to"], change["reason"], change["workflow_id"]) == (
        "open", "accepted", "Registered oomkill-increase-memory for it", "oomkill-increase-memory")
    assert change["changed_by"] and change["changed_at"]
    again = client.patch(path, {"status": "dismissed", "reason": "Changed my mind"}, scopes=DECIDE)
    assert (again.status, problem_type(again)) == (409, "invalid-transition")


def test_dismissing_needs_a_reason_and_links_nothing(client: ApiClient, db: Any) -> None:
    rec = post(client, recommendation()).json
    path = f"{RECOMMENDATIONS}/{rec['recommendation_id']}"
    before = table_counts(db)
    for body in ({"status": "dismissed"}, {"status": "dismissed", "reason": "  "},
                 {"status": "dismissed", "reason": "x", "workflow_id": "oomkill-increase-memory"},
                 {"status": "open", "reason": "x"}):
        response = client.patch(path, body, scopes=DECIDE)
        assert (response.status, problem_type(response)) == (400, "validation-error"), body
    immutable = client.patch(path, {"status": "dismissed", "reason": "x", "summary": "other"}, scopes=DECIDE)
    assert (immutable.status, problem_type(immutable)) == (409, "immutable-field")
    assert table_counts(db) == before
    dismissed = client.patch(path, {"status": "dismissed", "reason": "Not a catalog job"}, scopes=DECIDE)
    assert (dismissed.json["status"], dismissed.json["workflow_id"]) == ("dismissed", None)
    assert dismissed.json["status_changes"][-1]["reason"] == "Not a catalog job"


@pytest.mark.parametrize(("changes", "path"), [
    ({"confidence": 1.5}, "$.confidence"),
    ({"summary": ""}, "$.summary"),
    ({"proposed_steps": ["ok", ""]}, "$.proposed_steps[1]"),
    ({"incident": {"id": "INC-1"}}, "$.incident.signal_type"),
    ({"incident": {"id": "INC-1", "signal_type": "OOMKilled", "component": ["a", "b"]}}, "$.incident.component"),
    ({"related_workflow_id": "Not_An_Id"}, "$.related_workflow_id"),
    ({"related_workflow_id": "not-in-the-catalog"}, "$.related_workflow_id"),
    ({"severity": "critical"}, "$.severity"),
])
def test_bad_posts_are_400s_naming_the_field_and_store_nothing(client: ApiClient, db: Any, changes: dict[str, Any],
                                                               path: str) -> None:
    response = post(client, {**recommendation(), **changes})
    assert (response.status, problem_type(response)) == (400, "validation-error")
    assert path in [e["path"] for e in response.json["errors"]]
    assert table_counts(db) == (0, 0, 0)


def test_the_scopes_of_the_contract_apply(client: ApiClient) -> None:
    assert post(client, recommendation()).status == 201
    assert client.post(RECOMMENDATIONS, recommendation(), scopes=("catalog:write",)).status == 403
    rec_id = client.get(RECOMMENDATIONS, scopes=READ).json["items"][0]["recommendation_id"]
    decide = client.patch(f"{RECOMMENDATIONS}/{rec_id}", {"status": "dismissed", "reason": "x"}, scopes=POST_SCOPE)
    assert decide.status == 403
    assert client.get(f"{RECOMMENDATIONS}/not-a-uuid", scopes=READ).status == 404
    assert client.get(f"{RECOMMENDATIONS}/{uuid.uuid4()}", scopes=READ).status == 404
