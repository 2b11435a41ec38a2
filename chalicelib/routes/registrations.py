"""Routes of the invoke endpoint (api.md "Registrations"): parse -> RegistrationService -> respond."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.http.endpoint import Call, endpoint, json_response, rfc3339
from chalicelib.http.openapi_fragments import accepted, body, ok, path_param, problems
from chalicelib.observability import current_correlation_id

registrations = Blueprint(__name__)
BASE = "/api/v1/registrations"


@endpoint(registrations, BASE, methods=("POST",), scope="registrations:write")
def submit(call: Call) -> object:
    correlation_id = current_correlation_id()  # bound by the middleware
    row, _ = services().registrations.submit(call.json(), call.actor, correlation_id)
    return json_response(registration_view(row), status=202)


@endpoint(registrations, BASE + "/{registration_id}")
def get(call: Call, registration_id: str) -> object:
    return registration_view(services().registrations.get(registration_id))


def registration_view(row: Mapping[str, Any]) -> dict[str, Any]:
    view = {
        "registration_id": str(row["registration_id"]),
        "status": row["status"],
        "event": row["event"],
        "workflow_id": row["workflow_id"],
        "version": row["version"],
        "image": row["image"],
        "image_digest": row["image_digest"],
        "container_image": row["container_image"],
        "signature": row.get("signature"),  # {"verified", "key_id", "mode", "reason", "detail"}; None: not checked
        "attempts": row["attempts"],
        "created_at": rfc3339(row["created_at"]),
        "finished_at": rfc3339(row["finished_at"]) if row["finished_at"] else None,
    }
    if row["error_type"]:
        view["error"] = {"type": row["error_type"], "title": row["error_title"], "detail": row["error_detail"]}
        if row["error_errors"]:
            view["error"]["errors"] = row["error_errors"]
    return view


_ERROR = {
    "type": "object",
    "required": ["type", "title", "detail"],
    "properties": {
        "type": {"type": "string", "description": "Reason, as on the resource's Ready condition: ImagePullFailed, "
                 "ImageTooLarge, ImageInvalid, RegistryNotAllowed, SchemaMissing, SchemaInvalid, ContentConflict, "
                 "SignatureMissing, SignatureInvalid, InternalError."},
        "title": {"type": "string"},
        "detail": {"type": "string", "description": "What exactly was wrong, in words an operator can act on."},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "path": {"type": "string"}, "message": {"type": "string"}}}},
    },
}  # fmt: skip
OPENAPI_SCHEMAS = {
    "RegistrationEvent": {
        "type": "object",
        "additionalProperties": False,
        "required": ["event", "object"],
        "properties": {
            "event": {"type": "string", "enum": ["ADDED", "MODIFIED", "DELETED"]},
            "object": {"type": "object", "description": "The RemediationWorkflow resource as the API server returns "
                       "it; validated against the CRD's openAPIV3Schema (crds/remediationworkflow.yaml)."},
        },
    },
    "Registration": {
        "type": "object",
        "required": ["registration_id", "status", "workflow_id", "version", "created_at"],
        "properties": {
            "registration_id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": ["pending", "running", "succeeded", "failed"]},
            "event": {"type": "string", "enum": ["ADDED", "MODIFIED", "DELETED"]},
            "workflow_id": {"type": "string"},
            "version": {"type": "string"},
            "image": {"type": "string", "description": "The image as the resource names it."},
            "image_digest": {"type": ["string", "null"], "description": "What the image reference resolved to."},
            "container_image": {"type": ["string", "null"], "description": "The digest-pinned reference stored."},
            "attempts": {"type": "integer"},
            "signature": {"type": ["object", "null"], "description": "Signature check under SIGNATURE_POLICY_FILE; "
                          "null when no check applied.", "properties": {
                "verified": {"type": "boolean"}, "key_id": {"type": ["string", "null"]},
                "mode": {"type": "string", "enum": ["warn", "enforce"]}, "reason": {"type": ["string", "null"]},
                "detail": {"type": ["string", "null"]}}},
            "error": {**_ERROR, "description": "Why it failed (or, while running, the problem being retried)."},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
}  # fmt: skip
OPENAPI_PATHS = {
    BASE: {
        "post": {
            "summary": "Register a RemediationWorkflow event (the watcher's invoke endpoint); runs asynchronously",
            "description": "Idempotent per delivery: the same resource uid, generation and event returns the same "
                           "registration and queues nothing new. DELETED disables the workflow.",
            "security": [{"apiKey": ["registrations:write"]}],
            "requestBody": body("RegistrationEvent"),
            "responses": {**accepted("Queued (or already known)", "Registration"),
                          **problems(400, 401, 403, 413, 415, 503)},
        }
    },
    BASE + "/{registration_id}": {
        "get": {
            "summary": "A registration's status and outcome",
            "parameters": [path_param("registration_id", "The id returned by POST /api/v1/registrations.")],
            "responses": {**ok("The registration", "Registration"), **problems(401, 403, 404)},
        }
    },
}  # fmt: skip
