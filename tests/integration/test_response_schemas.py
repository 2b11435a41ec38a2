"""The response check every test runs under (tests/support/responses.py) finds what drifts from the document."""

from __future__ import annotations

import json

from tests.support.api import ApiClient
from tests.support.catalog import create
from tests.support.responses import RESPONSES

JSON = {"Content-Type": "application/json"}
ROUTE = "/api/v1/playbooks/{workflow_id}/versions/{version}"


def test_a_body_as_documented_passes_and_each_kind_of_drift_is_named(client: ApiClient) -> None:
    created = create(client, "1.0.0")
    served = client.get(f"/api/v1/playbooks/{created['workflow_id']}/versions/{created['version']}")
    body = served.json
    assert RESPONSES.check("GET", ROUTE, 200, JSON, json.dumps(body)) == []
    assert RESPONSES.check("GET", ROUTE, 200, JSON, json.dumps({**body, "surprise": 1})) == ["/surprise: not documented"]
    wrong = RESPONSES.check("GET", ROUTE, 200, JSON, json.dumps({**body, "status": "retired"}))
    assert len(wrong) == 1 and wrong[0].startswith("status: 'retired' is not one of")
    nested = {**body, "owner": {**body["owner"], "extra": True}}  # Owner forbids more fields itself
    assert RESPONSES.check("GET", ROUTE, 200, JSON, json.dumps(nested)) == [
        "owner: Additional properties are not allowed ('extra' was unexpected)"]
    listed = {"items": [{**body, "labels": body["labels"], "deeper": 1}], "next_cursor": None}
    assert RESPONSES.check("GET", "/api/v1/playbooks", 200, JSON, json.dumps(listed)) == [
        "/items/0/deeper: not documented"]
    assert RESPONSES.check("GET", ROUTE, 201, JSON, "{}")[0].startswith("status 201 is not documented")
    assert RESPONSES.check("GET", "/api/v1/nowhere", 200, JSON, "{}") == ["the operation is not in the OpenAPI document"]
