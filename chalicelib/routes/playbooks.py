"""Routes of the workflow catalog (api.md "Workflow versions"): parse -> CatalogService -> respond."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.workflows import STATUSES, parse_new_version
from chalicelib.http import request as parse
from chalicelib.http.endpoint import Call, endpoint, fitting, json_response
from chalicelib.http.openapi import SEMVER_PATTERN, WORKFLOW_ID_PATTERN
from chalicelib.http.openapi_fragments import body, limit_param, ok, param, path_param, problems, query_list
from chalicelib.http.views import history_view, version_view, workflow_view
from chalicelib.services.catalog import version_position

playbooks = Blueprint(__name__)
BASE = "/api/v1/playbooks"


@endpoint(playbooks, BASE, methods=("POST",), scope="catalog:write")
def create_version(call: Call) -> object:
    result = services().catalog.create_version(parse_new_version(call.json()), call.actor)
    return json_response(version_view(result.version), status=201 if result.created else 200)


@endpoint(playbooks, BASE)
def list_workflows(call: Call) -> object:
    params = call.params
    status = params.get("status", "active")
    if status not in STATUSES:
        raise ValidationFailed("'status' must be draft, active or deprecated.")
    after = parse.decode_cursor(params, lambda p: isinstance(p, str))
    limit = parse.limit_param(params)
    page = services().catalog.list_latest(
        status, parse.bool_param(params, "enabled"), params.get("signal_type"), parse.label_params(params), limit, after
    )
    items = [version_view(row) for row in page.items]
    fit = fitting(items)
    next_after = items[fit - 1]["workflow_id"] if fit < len(items) else page.next_after
    return {"items": items[:fit], "next_cursor": parse.encode_cursor(next_after) if next_after else None}


@endpoint(playbooks, BASE + "/versions")
def versions_by_query(call: Call) -> object:
    workflow_id = call.params.get("workflow_id")
    if not workflow_id:
        raise ValidationFailed("'workflow_id' is required.")
    return _history(call, workflow_id)


@endpoint(playbooks, BASE + "/{workflow_id}/versions")
def versions(call: Call, workflow_id: str) -> object:
    return _history(call, workflow_id)


def _history(call: Call, workflow_id: str) -> object:
    after = parse.decode_cursor(call.params, _is_version_position)
    rows, changes, next_after = services().catalog.history(workflow_id, parse.limit_param(call.params), after)
    fit = fitting([version_view(row) for row in rows])
    if fit < len(rows):
        rows, next_after = rows[:fit], version_position(rows[fit - 1])
    return history_view(workflow_id, rows, changes, parse.encode_cursor(next_after) if next_after else None)


def _is_version_position(p: object) -> bool:
    return (
        isinstance(p, list)
        and len(p) == 6
        and all(isinstance(x, int) for x in (p[0], p[1], p[2], p[5]))
        and isinstance(p[3], str)
        and isinstance(p[4], str)
    )


@endpoint(playbooks, BASE + "/{workflow_id}")
def get_workflow(call: Call, workflow_id: str) -> object:
    return workflow_view(services().catalog.get_workflow(workflow_id))


@endpoint(playbooks, BASE + "/{workflow_id}", methods=("PATCH",), scope="catalog:write")
def patch_workflow(call: Call, workflow_id: str) -> object:
    return workflow_view(services().catalog.set_enabled(workflow_id, call.json(), call.actor))


@endpoint(playbooks, BASE + "/{workflow_id}/versions/{version}")
def get_version(call: Call, workflow_id: str, version: str) -> object:
    return version_view(services().catalog.get_version(workflow_id, version))


@endpoint(playbooks, BASE + "/{workflow_id}/versions/{version}", methods=("PATCH",), scope="catalog:write")
def patch_version(call: Call, workflow_id: str, version: str) -> object:
    return version_view(services().catalog.change_status(workflow_id, version, call.json(), call.actor))


@endpoint(playbooks, BASE + "/{workflow_id}/rollback", methods=("POST",), scope="catalog:write")
def rollback(call: Call, workflow_id: str) -> object:
    return services().catalog.rollback(workflow_id, call.json(), call.actor)


_ID = path_param("workflow_id", "The workflow id (a DNS-1123 label).", pattern=WORKFLOW_ID_PATTERN)
_VERSION = path_param("version", "A semantic version; a leading v is accepted.", pattern=SEMVER_PATTERN)
_PAGE = [
    limit_param(),
    param("cursor", "string", "next_cursor of the previous page."),
]
_HISTORY = ok("Version history, newest SemVer first, with status changes.", "VersionHistory")

OPENAPI_PATHS = {
    BASE: {
        "post": {
            "summary": "Create a workflow version (idempotent on identical content)",
            "security": [{"apiKey": ["catalog:write"]}],
            "requestBody": body("NewVersion"),
            "responses": {
                "201": ok("Created", "Version")["200"],
                **ok("Identical content already stored", "Version"),
                **problems(400, 401, 403, 409, 413, 415),
            },
        },
        "get": {
            "summary": "Latest version of each workflow (with the given status, default active)",
            "parameters": [
                param("status", "string", "draft, active (default) or deprecated.", enum=list(STATUSES)),
                param("enabled", "boolean", "Only enabled (true) or disabled (false) workflows."),
                param("signal_type", "string", "Hard label filter on signal_type."),
                query_list("label.{key}", "Hard label filter: label.<key>=<value> (case-insensitive, * matches)."),
                *_PAGE,
            ],
            "responses": {**ok("A page of versions", "VersionPage"), **problems(400, 401, 403)},
        },
    },
    BASE + "/versions": {
        "get": {
            "summary": "Version history of a workflow",
            "parameters": [
                param("workflow_id", "string", "The workflow id.", required=True, pattern=WORKFLOW_ID_PATTERN),
                *_PAGE,
            ],
            "responses": {**_HISTORY, **problems(400, 401, 403, 404)},
        }
    },
    BASE + "/{workflow_id}": {
        "get": {
            "summary": "The latest active version, the enabled flag and a summary of all versions",
            "parameters": [_ID],
            "responses": {**ok("The workflow", "Workflow"), **problems(401, 403, 404)},
        },
        "patch": {
            "summary": "Enable or disable a workflow (reason required)",
            "parameters": [_ID],
            "requestBody": body("EnabledChange"),
            "responses": {**ok("The workflow", "Workflow"), **problems(400, 401, 403, 404, 409, 413, 415)},
        },
    },
    BASE + "/{workflow_id}/versions": {
        "get": {
            "summary": "Version history of a workflow",
            "parameters": [_ID, *_PAGE],
            "responses": {**_HISTORY, **problems(400, 401, 403, 404)},
        },
    },
    BASE + "/{workflow_id}/versions/{version}": {
        "get": {
            "summary": "One version, any status",
            "parameters": [_ID, _VERSION],
            "responses": {**ok("The version", "Version"), **problems(401, 403, 404)},
        },
        "patch": {
            "summary": "Lifecycle transition: draft -> active -> deprecated (terminal)",
            "parameters": [_ID, _VERSION],
            "requestBody": body("StatusChange"),
            "responses": {**ok("The version", "Version"), **problems(400, 401, 403, 404, 409, 413, 415)},
        },
    },
    BASE + "/{workflow_id}/rollback": {
        "post": {
            "summary": "Deprecate every active version above to_version, in one transaction",
            "parameters": [_ID],
            "requestBody": body("Rollback"),
            "responses": {**ok("The rollback result", "RollbackResult"), **problems(400, 401, 403, 404, 409, 413, 415)},
        }
    },
}
