"""Label filters are hard: the SQL of search and chalicelib/domain/labels.matches against one truth table."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.labels import matches
from tests.support.api import ApiClient
from tests.support.search import ids, publish, search

WORKFLOWS: dict[str, dict[str, Any]] = {
    "exact": {"signal_type": "OOMKilled", "severity": ["critical", "high"], "environment": "production",
              "component": "deployment", "priority": "P1", "business_category": "Payments"},
    "wild": {"signal_type": "*", "severity": "*", "environment": "*", "component": "*", "priority": "*"},
    "list-wild": {"signal_type": "*", "severity": ["low", "*"], "environment": ["*"], "component": "pod"},
    "absent": {"signal_type": "CrashLoopBackOff", "severity": "low", "environment": ["staging", "production"],
               "component": "pod"},
}

# request labels -> workflows that must be candidates (written out by hand, not computed)
TRUTH_TABLE: list[tuple[dict[str, str], set[str]]] = [
    ({"signal_type": "OOMKilled"}, {"exact", "wild", "list-wild"}),
    ({"signal_type": "oomkilled"}, {"exact", "wild", "list-wild"}),          # case-insensitive
    ({"signal_type": "  OOMKILLED "}, {"exact", "wild", "list-wild"}),       # trimmed
    ({"severity": "high"}, {"exact", "wild", "list-wild"}),                   # list contains / "*" in list
    ({"severity": "HIGH"}, {"exact", "wild", "list-wild"}),
    ({"severity": "medium"}, {"wild", "list-wild"}),
    ({"environment": "production"}, {"exact", "wild", "list-wild", "absent"}),
    ({"component": "pod"}, {"wild", "list-wild", "absent"}),
    ({"priority": "P1"}, {"exact", "wild", "list-wild", "absent"}),          # absent optional label passes
    ({"priority": "p2"}, {"wild", "list-wild", "absent"}),
    ({"business_category": "payments"}, {"exact", "wild", "list-wild", "absent"}),
    ({"business_category": "retail"}, {"wild", "list-wild", "absent"}),
    ({"signal_type": "*"}, {"exact", "wild", "list-wild", "absent"}),         # a requested "*" constrains nothing
    ({"signal_type": "OOMKilled", "severity": "low"}, {"wild", "list-wild"}),
    ({"signal_type": "CrashLoopBackOff", "severity": "low", "component": "POD"}, {"wild", "list-wild", "absent"}),
    ({"signal_type": "x' OR '1'='1"}, {"wild", "list-wild"}),                # hostile value is only a value
]


@pytest.fixture
def catalog(client: ApiClient) -> ApiClient:
    for name, labels in WORKFLOWS.items():
        publish(client, f"wf-{name}", title=f"Restart pods {name}", description="Restarts the pods.", **labels)
    return client


@pytest.mark.parametrize(("labels", "expected"), TRUTH_TABLE)
def test_domain_rule_agrees_with_the_table(labels: dict[str, str], expected: set[str]) -> None:
    computed = {name for name, wl in WORKFLOWS.items() if all(matches(wl.get(k), v) for k, v in labels.items())}
    assert computed == expected


@pytest.mark.parametrize(("labels", "expected"), TRUTH_TABLE)
@pytest.mark.parametrize("with_query", [True, False])
def test_search_returns_exactly_the_matching_workflows(
    catalog: ApiClient, labels: dict[str, str], expected: set[str], with_query: bool
) -> None:
    body: dict[str, Any] = {"labels": labels, "top_k": 100}
    if with_query:
        body["query"] = "restart pods"
    assert set(ids(search(catalog, **body))) == {f"wf-{name}" for name in expected}


def test_get_form_applies_named_and_prefixed_label_filters(catalog: ApiClient) -> None:
    response = catalog.get("/api/v1/playbooks/search?query=restart&severity=High&label.business_category=retail",
                           scopes=("catalog:read",))
    assert response.status == 200
    assert set(ids(response.json)) == {"wf-wild", "wf-list-wild"}
