"""The OpenAPI document describes exactly the routes the app serves."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from tests.support.api import ApiClient


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
