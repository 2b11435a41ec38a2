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
