"""The OpenAPI document describes exactly the routes the app serves."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

from tests.support.api import ApiClient
from tests.support.catalog import workflow


def served_operations() -> set[tuple[str, str]]:
    from app import app

    return {(path, method.lower()) for path, methods in app.routes.items() for method in methods}


def test_every_route_is_documented_and_nothing_else(client: ApiClient) -> None:
    response = client.get("/api/v1/openapi.json", scopes=("catalog:read",))
    assert response.status == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == served_operations()


def test_references_resolve_and_schemas_are_valid(client: ApiClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    text = str(document)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in document["components"]["schemas"], name
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for path, operations in document["paths"].items():
        for placeholder in re.findall(r"{(\w+)}", path):
            for method, operation in operations.items():
                names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                assert placeholder in names, (path, method, placeholder)


def test_every_body_documents_the_problems_body_parsing_answers(client: ApiClient) -> None:
    """json_body() answers 400 (malformed), 413 (too large) and 415 (not JSON) on every route with a body."""
    document = client.get("/api/v1/openapi.json").json
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(operation["responses"]), (path, method)


def test_documented_query_parameters_carry_the_bounds_the_api_enforces(client: ApiClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    by_path = {path: p["schema"] for path, ops in document["paths"].items() for op in ops.values()
               for p in op.get("parameters", []) if p["name"] == "limit"}
    assert {"/api/v1/playbooks", "/api/v1/playbooks/versions", "/api/v1/playbooks/{workflow_id}/versions",
            "/api/v1/executions", "/api/v1/api-keys", "/api/v1/recommendations"} <= set(by_path)
    limits = list(by_path.values())
    assert all((s["minimum"], s["maximum"], s["default"]) == (1, 200, 50) for s in limits)
    search = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/playbooks/search"]["get"]["parameters"]}
    assert (search["top_k"]["minimum"], search["top_k"]["maximum"]) == (1, 100)
    assert (search["min_score"]["minimum"], search["min_score"]["maximum"]) == (0, 1)
    assert client.get("/api/v1/playbooks?limit=201").status == 400
    assert client.get("/api/v1/playbooks/search?top_k=101").status == 400


def test_semver_fields_are_semver_strings_with_the_bounds_the_server_enforces(client: ApiClient) -> None:
    from chalicelib.domain.limits import SEMVER_PATTERN

    document = client.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    semver = schemas["SemVer"]
    assert (semver["type"], semver["pattern"]) == ("string", SEMVER_PATTERN)
    assert schemas["Version"]["type"] == "object"  # the response object keeps its name; no collision
    semver_ref = {"$ref": "#/components/schemas/SemVer"}
    assert schemas["NewVersion"]["properties"]["version"] == semver_ref
    assert schemas["Rollback"]["properties"]["to_version"]["$ref"] == semver_ref["$ref"]
    assert schemas["NewExecution"]["properties"]["version"]["$ref"] == semver_ref["$ref"]
    query = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/executions"]["get"]["parameters"]}
    assert query["version"]["pattern"] == SEMVER_PATTERN
    # What the pattern admits never fails: the largest bounds work, one more is a 400 (was a 500).
    assert client.get("/api/v1/executions?version=2147483647.2147483647.2147483647").status == 200
    assert client.get("/api/v1/executions?version=1.0.0-" + "9" * 20).status == 200
    for beyond in ("2147483648.0.0", "9999999999.0.0", "1.0.0-" + "1" * 21):
        assert client.get(f"/api/v1/executions?version={beyond}").status == 400, beyond


def test_label_filters_are_one_deep_object_parameter_accepted_both_ways(client: ApiClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/playbooks", "/api/v1/playbooks/search"):
        labels = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "label"]
        assert len(labels) == 1 and (labels[0]["style"], labels[0]["explode"]) == ("deepObject", True)
        assert labels[0]["schema"]["type"] == "object"
        assert not [p for p in document["paths"][path]["get"]["parameters"] if "{" in p["name"]]
    client.post("/api/v1/playbooks", workflow("1.0.0"))
    deep = client.get("/api/v1/playbooks?label%5Bpriority%5D=P1").json["items"]
    dotted = client.get("/api/v1/playbooks?label.priority=P1").json["items"]
    assert [w["workflow_id"] for w in deep] == [w["workflow_id"] for w in dotted] == ["oomkill-increase-memory"]
    assert client.get("/api/v1/playbooks?label%5Bpriority%5D=P4").json["items"] == []
    both = client.get("/api/v1/playbooks?label%5Bpriority%5D=P1&label.priority=P1")
    assert both.status == 400 and both.json["errors"][0]["path"] == "$.label.priority"
    unknown = client.get("/api/v1/executions?label%5Bpriority%5D=P1")  # a route without label filters
    assert unknown.status == 400 and "unknown query parameter" in unknown.json["errors"][0]["message"]


def test_component_names_never_collide() -> None:
    from chalicelib.http.openapi import components

    with pytest.raises(ValueError, match="Version"):
        components({"Version": {"type": "string"}}, {"Version": {"type": "object"}})
