"""The incident decides what may run: every label it carries is applied to the workflow like a search filter."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.executions import (
    EXECUTIONS,
    STUCK,
    WRITE,
    count_executions,
    create_workflow,
    new_target,
    problem_type,
    start,
    stuck_parameters,
)

# The example's labels: signal_type DeploymentRolloutStuck, severity [warning, high], environment "*",
# component deployment, priority P2.
LABELS = STUCK["labels"]


def bound(**incident: Any) -> dict[str, Any]:
    return {"id": "INC-7", "signal_type": "DeploymentRolloutStuck", **incident}


CASES = [
    # (workflow labels changed, incident, paths of the incident labels that exclude the workflow)
    ({"environment": ["production", "staging"]}, bound(environment="production"), []),
    ({"environment": ["production", "staging"]}, bound(environment="STAGING "), []),  # case and spaces
    ({"environment": ["production", "staging"]}, bound(environment="dev"), ["$.incident.environment"]),
    ({"environment": "production"}, bound(environment="prod"), ["$.incident.environment"]),  # no prefixes
    ({"environment": "*"}, bound(environment="anything"), []),  # the workflow runs anywhere
    ({"environment": "production"}, bound(environment="*"), []),  # the incident sets no constraint
    ({"environment": ["staging", "*"]}, bound(environment="dev"), []),
    ({}, bound(severity="critical"), ["$.incident.severity"]),
    ({}, bound(severity="High"), []),
    ({}, bound(signal_type="OOMKilled"), ["$.incident.signal_type"]),
    ({}, bound(component="statefulset"), ["$.incident.component"]),
    ({}, bound(priority="P1"), ["$.incident.priority"]),
    ({"priority": None}, bound(priority="P1"), []),  # an optional label the workflow does not declare
    ({"business_category": "payments"}, bound(business_context={"business_category": "security"}),
     ["$.incident.business_context.business_category"]),
    ({"business_category": ["payments", "checkout"]}, bound(business_context={"business_category": "checkout"}), []),
    ({}, bound(business_context={"business_category": "security", "risk_tolerance": "low"}), []),
    ({"risk_tolerance": "*"}, bound(business_context={"risk_tolerance": "low"}), []),
    # A list in the incident: each of its values must be admitted.
    ({"risk_tolerance": "low"}, bound(business_context={"risk_tolerance": ["low", "medium"]}),
     ["$.incident.business_context.risk_tolerance[1]"]),
    ({"risk_tolerance": ["low", "medium"]}, bound(business_context={"risk_tolerance": ["medium", "LOW"]}), []),
    ({"environment": "production", "business_category": "payments"},
     bound(environment="staging", severity="high", business_context={"business_category": "security"}),
     ["$.incident.business_context.business_category", "$.incident.environment"]),
]


def labels_with(changes: dict[str, Any]) -> dict[str, Any]:
    labels = {**LABELS, **changes}
    return {key: value for key, value in labels.items() if value is not None}


@pytest.mark.parametrize(("changes", "incident", "excluded"), CASES)
def test_every_incident_label_binds_the_workflow(client: ApiClient, db: Any, changes: dict[str, Any],
                                                  incident: dict[str, Any], excluded: list[str]) -> None:
    create_workflow(client, labels=labels_with(changes))
    response = start(client, incident=incident)
    if not excluded:
        assert response.status == 201, response
        assert response.json["incident"] == incident
        return
    assert response.status == 409 and problem_type(response) == "workflow-not-applicable", response
    assert sorted(error["path"] for error in response.json["errors"]) == excluded
    for path in excluded:  # the detail names every excluding label, in words an agent can act on
        assert path.removeprefix("$.incident.") in response.json["detail"]
    assert count_executions(db) == (0, 0)


@pytest.mark.parametrize(("changes", "incident", "excluded"), [case for case in CASES
                                                               if all(isinstance(v, str) for v in
                                                                      case[1].get("business_context", {}).values())])
def test_search_offers_exactly_the_workflows_the_incident_may_run(client: ApiClient, changes: dict[str, Any],
                                                                   incident: dict[str, Any], excluded: list[str]
                                                                   ) -> None:
    """One rule: searching with the incident's labels finds the workflow exactly when executing it is allowed."""
    create_workflow(client, labels=labels_with(changes))
    labels = {key: value for key, value in incident.items() if key not in ("id", "business_context")}
    found = client.post("/api/v1/playbooks/search", {"labels": {**labels, **incident.get("business_context", {})}})
    assert found.status == 200, found
    assert (found.json["total"] == 1) is (not excluded)
    assert (start(client, incident=incident).status == 201) is (not excluded)


@pytest.mark.parametrize(("incident", "path"), [
    (bound(severity=["high"]), "$.incident.severity"),  # one value, like a search filter
    (bound(environment=""), "$.incident.environment"),
    (bound(component="   "), "$.incident.component"),
    (bound(priority=1), "$.incident.priority"),
    (bound(environment="x" * 129), "$.incident.environment"),
    (bound(business_context={"risk_tolerance": []}), "$.incident.business_context.risk_tolerance"),
])
def test_malformed_incident_labels_are_400_and_store_nothing(client: ApiClient, db: Any, incident: dict[str, Any],
                                                             path: str) -> None:
    create_workflow(client)
    response = client.post(EXECUTIONS, {"workflow_id": "stuck-rollout-restart", "incident": incident,
                                        "target": new_target(), "parameters": stuck_parameters()}, scopes=WRITE)
    assert response.status == 400 and problem_type(response) == "validation-error"
    assert path in {error["path"] for error in response.json["errors"]}
    assert count_executions(db) == (0, 0)
