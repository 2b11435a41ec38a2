"""Small builders for OpenAPI 3.1 fragments, so each routes module documents its own routes."""

from __future__ import annotations

from typing import Any

from chalicelib.http.problems import STATUS_PROBLEMS


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def ok(description: str, schema: str) -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": ref(schema)}}}}


def created(description: str, schema: str) -> dict[str, Any]:
    return {"201": ok(description, schema)["200"]}


def accepted(description: str, schema: str) -> dict[str, Any]:
    return {"202": ok(description, schema)["200"]}


def body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


def problems(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": STATUS_PROBLEMS[status][1],
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
        for status in statuses
    }


def param(name: str, kind: str, description: str, required: bool = False, **schema: Any) -> dict[str, Any]:
    """A query parameter; ``schema`` adds keywords such as minimum, maximum, enum or pattern."""
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": kind, **schema}}


def limit_param() -> dict[str, Any]:
    return param("limit", "integer", "Page size, 1-200 (default 50).", minimum=1, maximum=200, default=50)


def query_list(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}


def path_param(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", **schema}}
