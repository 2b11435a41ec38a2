"""Routes of api.md "Parameters and execution": parse -> ExecutionService -> respond.

Also the two playbook sub-resources that belong to execution: parameter validation and statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain.errors import FieldError, ValidationFailed
from chalicelib.domain.executions import (
    EXECUTION_STATUSES,
    REDACTED,
    duration_seconds,
    parse_execution_request,
    parse_status_update,
    parse_validate_request,
)
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.workflows import check_workflow_id
from chalicelib.http import request as parse
from chalicelib.http.endpoint import Call, endpoint, fitting, json_response, rfc3339
from chalicelib.http.openapi import SEMVER_PATTERN, VERSION, WORKFLOW_ID_PATTERN
from chalicelib.http.openapi_fragments import body, created, limit_param, ok, param, path_param, problems, ref

executions = Blueprint(__name__)
BASE = "/api/v1/executions"
PLAYBOOKS = "/api/v1/playbooks"
Row = Mapping[str, Any]  # a row as the stores return it


@endpoint(executions, PLAYBOOKS + "/{workflow_id}/versions/{version}/validate", methods=("POST",))
def validate_parameters(call: Call, workflow_id: str, version: str) -> object:
    parameters = parse_validate_request(call.json())
    return asdict(services().executions.validate(workflow_id, version, parameters))


@endpoint(executions, BASE, methods=("POST",), scope="executions:write")
def start_execution(call: Call) -> object:
    started = services().executions.start(parse_execution_request(call.json()), call.actor)
    view = execution_view(started.execution)
    return json_response({**view, "pipeline_run": started.pipeline_run}, status=201)


@endpoint(executions, BASE + "/{execution_id}", methods=("PATCH",), scope="executions:write")
def update_execution(call: Call, execution_id: str) -> object:
    update = parse_status_update(call.json())
    return execution_view(services().executions.update_status(execution_id, update, call.actor))


@endpoint(executions, BASE)
def list_executions(call: Call) -> object:
    workflow_id, version, status = _filters(call.params)
    before = parse.decode_cursor(call.params, _is_position)
    page = services().executions.list_executions(
        workflow_id, version, status, parse.limit_param(call.params), before[0] if before else None
    )
    items = [execution_view(row) for row in page.items]
    fit = fitting(items)
    next_before = page.items[fit - 1]["id"] if fit < len(items) else page.next_before
    return {"items": items[:fit], "next_cursor": parse.encode_cursor([next_before]) if next_before else None}


@endpoint(executions, BASE + "/{execution_id}")
def get_execution(call: Call, execution_id: str) -> object:
    row, events = services().executions.get(execution_id)
    return {**execution_view(row), "events": [event_view(event) for event in events]}


@endpoint(executions, PLAYBOOKS + "/{workflow_id}/stats")
def workflow_stats(call: Call, workflow_id: str) -> object:
    rows = services().executions.stats(workflow_id)
    return {"workflow_id": workflow_id, "versions": [stats_view(row) for row in rows]}


def _filters(params: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    errors: list[FieldError] = []
    workflow_id, version, status = params.get("workflow_id"), params.get("version"), params.get("status")
    if workflow_id is not None:
        errors.extend(check_workflow_id(workflow_id))
    if version is not None:
        try:
            version = normalize_version(version)
        except ValueError as exc:
            errors.append(FieldError("$.version", str(exc)))
    if status is not None and status not in EXECUTION_STATUSES:
        errors.append(FieldError("$.status", f"must be one of {', '.join(EXECUTION_STATUSES)}"))
    if errors:
        raise ValidationFailed("Invalid execution filter; see errors.", errors)
    return workflow_id, version, status


def _is_position(position: object) -> bool:
    return (isinstance(position, list) and len(position) == 1 and type(position[0]) is int
            and 0 < position[0] < 2**63)


def _time(value: Any) -> str | None:
    return rfc3339(value) if value is not None else None


def execution_view(row: Row) -> dict[str, Any]:
    """The audit-trail record; ``parameters`` were redacted before they were stored."""
    return {
        "execution_id": row["execution_id"],
        "status": row["status"],
        "workflow_id": row["workflow_id"],
        "version": row["version"],
        "container_image": row["container_image"],
        "pipeline_run_name": row["pipeline_run_name"],
        "parameters": row["parameters"],
        "redacted_parameters": row["redacted_parameters"],
        "incident": row["incident"],
        "message": row["message"],
        "created_by": row["created_by"],
        "created_at": _time(row["created_at"]),
        "started_at": _time(row["started_at"]),
        "finished_at": _time(row["finished_at"]),
        "duration_seconds": duration_seconds(row["started_at"], row["finished_at"]),
    }


def event_view(row: Row) -> dict[str, Any]:
    return {"from": row["from_status"], "to": row["to_status"], "message": row["message"],
            "changed_by": row["changed_by"], "changed_at": _time(row["changed_at"])}


def stats_view(row: Row) -> dict[str, Any]:
    return {key: row[key] for key in ("version", "status", "executions", "pending", "running", "succeeded",
                                      "failed", "success_rate", "mean_duration_seconds")}


# --- OpenAPI ------------------------------------------------------------------------------------
_TIMESTAMP = {"type": "string", "format": "date-time"}
_NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
_WORKFLOW_ID = path_param("workflow_id", "The workflow id (a DNS-1123 label).", pattern=WORKFLOW_ID_PATTERN)
_VERSION = path_param("version", "A semantic version; a leading v is accepted.", pattern=SEMVER_PATTERN)
_EXECUTION_ID = path_param("execution_id", "The execution id (a UUID).")
_STRING_LIST = {"type": "array", "items": {"type": "string"}}

OPENAPI_SCHEMAS: dict[str, Any] = {
    "ParametersRequest": {
        "type": "object", "additionalProperties": False,
        "properties": {"parameters": {"type": "object", "description": "Parameter name -> value (absent: none)."}},
    },
    "ParameterValidation": {
        "type": "object", "required": ["valid", "errors", "parameters"],
        "properties": {
            "valid": {"type": "boolean"},
            "errors": {"type": "array", "items": {"type": "object", "required": ["path", "message"], "properties": {
                "path": {"type": "string", "description": "JSON path of the parameter, e.g. $.parameters.MEMORY_LIMIT"},
                "message": {"type": "string", "description": "What to change; never quotes the value."}}}},
            "parameters": {"type": "object", "description": f"Declared parameters with defaults applied; writeOnly "
                                                            f"values shown as {REDACTED!r}."},
            "redacted": {**_STRING_LIST, "description": "Names of the writeOnly parameters shown redacted."},
        },
    },
    "Incident": {
        "type": "object", "required": ["id", "signal_type"],
        "description": "Incident context kept in the audit trail; other fields are free-form JSON (at most 32 KiB).",
        "properties": {
            "id": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "\\S"},
            "signal_type": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "\\S"},
            "business_context": {"type": "object", "description": "lower_snake_case keys, label-shaped values",
                                 "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,62}$"},
                                 "additionalProperties": {"oneOf": [{"type": "string"}, _STRING_LIST]}},
        },
    },
    "NewExecution": {
        "type": "object", "additionalProperties": False, "required": ["workflow_id", "incident"],
        "properties": {
            "workflow_id": {"type": "string", "pattern": WORKFLOW_ID_PATTERN},
            "version": {**VERSION, "description": "Absent: the latest active version."},
            "parameters": {"type": "object", "description": "Validated against the version's parameter schema; "
                                                            "undeclared names are errors."},
            "incident": ref("Incident"),
        },
    },
    "Execution": {
        "type": "object",
        "properties": {
            "execution_id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": list(EXECUTION_STATUSES)},
            "workflow_id": {"type": "string"}, "version": {"type": "string"},
            "container_image": {"type": "string"},
            "pipeline_run_name": {"type": "string"},
            "parameters": {"type": "object", "description": f"writeOnly values are stored and shown as {REDACTED!r}."},
            "redacted_parameters": _STRING_LIST,
            "incident": ref("Incident"),
            "message": {"type": ["string", "null"], "description": "Latest status message."},
            "created_by": {"type": "string"}, "created_at": _TIMESTAMP,
            "started_at": _NULLABLE_TIMESTAMP, "finished_at": _NULLABLE_TIMESTAMP,
            "duration_seconds": {"type": ["number", "null"], "description": "finished_at - started_at."},
        },
    },
    "ExecutionDetail": {"allOf": [ref("Execution"), {"type": "object", "properties": {"events": {
        "type": "array", "items": {"type": "object", "properties": {
            "from": {"type": ["string", "null"]}, "to": {"type": "string"}, "message": {"type": ["string", "null"]},
            "changed_by": {"type": "string"}, "changed_at": _TIMESTAMP}}}}}]},
    "ExecutionStarted": {"allOf": [ref("Execution"), {"type": "object", "required": ["pipeline_run"], "properties": {
        "pipeline_run": ref("PipelineRun")}}]},
    "PipelineRun": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "description": "A Tekton tekton.dev/v1 PipelineRun to create in the cluster (the only place writeOnly "
                       "values are returned). Each parameter is a string in spec.params and reaches the step, which "
                       "runs the digest-pinned image, as an environment variable of the same name. Labels "
                       "kubernaut.ai/workflow-id, kubernaut.ai/workflow-version, kubernaut.ai/execution-id.",
        "properties": {"apiVersion": {"const": "tekton.dev/v1"}, "kind": {"const": "PipelineRun"},
                       "metadata": {"type": "object"}, "spec": {"type": "object"}},
    },
    "ExecutionStatusUpdate": {
        "type": "object", "additionalProperties": False, "required": ["status"],
        "description": "pending -> running -> succeeded | failed, or pending -> failed; succeeded and failed "
                       "are final.",
        "properties": {"status": {"type": "string", "enum": ["running", "succeeded", "failed"]},
                       "message": {"type": "string", "maxLength": 4000}},
    },
    "ExecutionPage": {"type": "object", "properties": {"items": {"type": "array", "items": ref("Execution")},
                                                       "next_cursor": {"type": ["string", "null"]}}},
    "WorkflowStats": {
        "type": "object",
        "properties": {"workflow_id": {"type": "string"}, "versions": {"type": "array", "items": {
            "type": "object", "properties": {
                "version": {"type": "string"}, "status": {"type": "string"},
                "executions": {"type": "integer"}, "pending": {"type": "integer"}, "running": {"type": "integer"},
                "succeeded": {"type": "integer"}, "failed": {"type": "integer"},
                "success_rate": {"type": ["number", "null"],
                                 "description": "succeeded / (succeeded + failed); null while none has finished."},
                "mean_duration_seconds": {"type": ["number", "null"],
                                          "description": "Mean finished_at - started_at of finished executions that "
                                                         "started; null when there are none."},
            }}}},
    },
}

_NOT_EXECUTABLE = ("409: invalid-transition when the workflow is disabled, the version is not active, or (no version "
                   "given) there is no active version.")

OPENAPI_PATHS = {
    PLAYBOOKS + "/{workflow_id}/versions/{version}/validate": {
        "post": {
            "summary": "Validate proposed parameters against a version's schema (any status); applies defaults",
            "parameters": [_WORKFLOW_ID, _VERSION],
            "requestBody": body("ParametersRequest"),
            "responses": {**ok("The validation report", "ParameterValidation"),
                          **problems(400, 401, 403, 404, 413, 415)},
        }
    },
    PLAYBOOKS + "/{workflow_id}/stats": {
        "get": {
            "summary": "Per-version execution statistics from the audit trail",
            "parameters": [_WORKFLOW_ID],
            "responses": {**ok("Statistics, newest SemVer first", "WorkflowStats"), **problems(401, 403, 404)},
        }
    },
    BASE: {
        "post": {
            "summary": "Validate parameters, record a pending execution and get its Tekton PipelineRun",
            "description": "400 validation-error on any parameter error (nothing is stored). " + _NOT_EXECUTABLE,
            "security": [{"apiKey": ["executions:write"]}],
            "requestBody": body("NewExecution"),
            "responses": {**created("Recorded; create pipeline_run in the cluster", "ExecutionStarted"),
                          **problems(400, 401, 403, 404, 409, 413, 415)},
        },
        "get": {
            "summary": "The execution audit trail, newest first",
            "parameters": [param("workflow_id", "string", "Only this workflow.", pattern=WORKFLOW_ID_PATTERN),
                           param("version", "string", "Only this version (SemVer; a leading v is accepted).",
                                 pattern=SEMVER_PATTERN),
                           param("status", "string", "pending, running, succeeded or failed.",
                                 enum=list(EXECUTION_STATUSES)),
                           limit_param(),
                           param("cursor", "string", "next_cursor of the previous page.")],
            "responses": {**ok("A page of executions", "ExecutionPage"), **problems(400, 401, 403)},
        },
    },
    BASE + "/{execution_id}": {
        "get": {
            "summary": "One execution with its status changes",
            "parameters": [_EXECUTION_ID],
            "responses": {**ok("The execution", "ExecutionDetail"), **problems(401, 403, 404)},
        },
        "patch": {
            "summary": "Record a lifecycle step (running, succeeded, failed)",
            "description": "409 invalid-transition for a move the lifecycle does not allow (finished is final).",
            "security": [{"apiKey": ["executions:write"]}],
            "parameters": [_EXECUTION_ID],
            "requestBody": body("ExecutionStatusUpdate"),
            "responses": {**ok("The execution", "Execution"), **problems(400, 401, 403, 404, 409, 413, 415)},
        },
    },
}
