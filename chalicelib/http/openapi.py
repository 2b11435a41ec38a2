"""The OpenAPI 3.1 document, assembled from what the routes declare, never written twice.

Every route is registered with the ``endpoint`` decorator (chalicelib/http/endpoint.py), which
records an ``Operation`` in chalicelib/http/operations.py: summary, scope, the request contracts of
its body and query string (domain/contracts.py), its responses. The document is built from those
records, the path parameters' declarations (domain/contracts.py ``PATH_PARAMETERS``), the shared
definitions of the contracts and the response schemas of http/schemas.py, so what is documented is
what the edge enforces. This module imports no route module: routes register themselves when the
app imports them. tests/integration/test_openapi.py keeps it true (every served route documented,
nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain import contracts
from chalicelib.domain.contracts import Contract
from chalicelib.domain.limits import API_SCOPES, MAX_LABELS
from chalicelib.http.operations import ANY_KEY, Operation, operations, path_parameter
from chalicelib.http.problems import STATUS_PROBLEMS
from chalicelib.http.schemas import RESPONSE_SCHEMAS

API_VERSION = "1.1.0"  # the version of this API's contract (info.version; the MCP server reports it too)
SCOPES = API_SCOPES


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    bodies: dict[str, Any] = {}
    for operation in operations():
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
        if operation.body is not None:
            bodies[operation.body.name] = public_schema(operation.body.schema)
    definitions = {name: public_schema(schema) for name, schema in contracts.DEFS.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Remediation Workflow Catalog",
            "version": API_VERSION,
            "description": "Register, search, validate and execute container-based remediation workflows. "
            "Errors are RFC 7807 application/problem+json. Unknown query parameters and unknown body fields "
            "are 400 validation-error naming them.",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": components(definitions, bodies, RESPONSE_SCHEMAS),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API key with scopes: " + ", ".join(SCOPES) + " (admin implies every scope).",
                }
            },
        },
    }


def components(*groups: Mapping[str, Any]) -> dict[str, Any]:
    """The component schemas, sorted; a name given twice (a request definition and a response shape, say) would
    make references point at the wrong schema, so it is an error."""
    merged: dict[str, Any] = {}
    for group in groups:
        for name, schema in group.items():
            if name in merged and merged[name] != schema:
                raise ValueError(f"two component schemas are named {name}")
            merged[name] = schema
    return dict(sorted(merged.items()))


def _operation(operation: Operation) -> dict[str, Any]:
    parameters = [_path_parameter(name) for name in operation.path_names]
    parameters += query_parameters(operation.query)
    statuses = {400, *operation.errors}  # every route checks its query string
    if operation.scope is not None:
        statuses |= {401, 403}
    body: dict[str, Any] = {}
    if operation.body is not None:
        statuses |= {413, 415}
        body = {"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{operation.body.name}"}}}}}
    responses: dict[str, Any] = {}
    for status, (description, schema) in sorted(operation.responses.items()):
        responses[str(status)] = {"description": description}
        if schema is not None:
            responses[str(status)]["content"] = {"application/json": {"schema": {
                "$ref": f"#/components/schemas/{schema}"}}}
    for status in sorted(statuses):
        responses[str(status)] = {"description": STATUS_PROBLEMS[status][1], "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    document: dict[str, Any] = {
        "summary": operation.summary,
        "security": [] if operation.scope is None else [{"apiKey": _scopes(operation.scope)}],
    }
    if operation.description:
        document["description"] = operation.description
    if parameters:
        document["parameters"] = parameters
    return {**document, **body, "responses": responses}


def _scopes(scope: str) -> list[str]:
    return [] if scope == ANY_KEY else [scope]


def _path_parameter(name: str) -> dict[str, Any]:
    declared = path_parameter(name)
    schema = {"type": "string", **({"pattern": declared.pattern} if declared.pattern else {})}
    return {"name": name, "in": "path", "required": True, "description": declared.description, "schema": schema}


def query_parameters(query: Contract) -> list[dict[str, Any]]:
    """The query contract as OpenAPI parameters; the ``label.<key>`` family (patternProperties) as the one way
    OpenAPI 3.1 describes a family of parameters: a ``label`` object in deepObject style (``label[key]=value``),
    which the edge accepts as well as ``label.key=value`` (chalicelib/http/request.py)."""
    schema = query.json_schema
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        resolved = public_schema(_resolve(prop, schema))
        description = resolved.pop("description", "")
        parameters.append({"name": name, "in": "query", "required": name in required, "description": description,
                           "schema": resolved})
    for prop in schema.get("patternProperties", {}).values():
        resolved = public_schema(prop)
        description = resolved.pop("description", "")
        parameters.append({
            "name": contracts.LABEL_FAMILY, "in": "query", "required": False, "style": "deepObject", "explode": True,
            "description": f"{description} Sent as label[<key>]=<value> (or label.<key>=<value>), once per key.",
            "schema": {"type": "object", "maxProperties": MAX_LABELS,
                       "propertyNames": public_schema(contracts.LABEL_KEYS), "additionalProperties": resolved},
        })
    return parameters


def _resolve(prop: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """A property with its local ``$ref`` inlined (a query parameter's schema is documented in place)."""
    target = prop.get("$ref", "")
    if target.startswith("#/$defs/"):
        return {**root["$defs"][target.rsplit("/", 1)[1]], **{k: v for k, v in prop.items() if k != "$ref"}}
    return dict(prop)


def public_schema(node: Any) -> Any:
    """A contract schema as published: references point at components, internal ``x-`` wording is dropped."""
    return contracts.published(node, "#/components/schemas/")
