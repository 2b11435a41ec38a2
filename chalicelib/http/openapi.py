"""Assembles the OpenAPI 3.1 document from each routes module's OPENAPI_PATHS (and OPENAPI_SCHEMAS).

tests/integration/test_openapi.py keeps it true: every Chalice route and method is documented,
and nothing undocumented is served.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib.domain.labels import MAX_LABELS, MAX_VALUE_LENGTH, MAX_VALUES
from chalicelib.domain.versions import MAX_VERSION_LENGTH

WORKFLOW_ID_PATTERN = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# A reason is kept in the history, so it must say something (not empty, not only whitespace).
REASON = {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": "\\S"}
# SemVer 2.0.0 (the regular expression semver.org suggests) with the optional leading v.
SEMVER_PATTERN = (
    r"^[vV]?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
VERSION = {"type": "string", "maxLength": MAX_VERSION_LENGTH, "pattern": SEMVER_PATTERN,
           "description": "SemVer 2.0.0; a leading v is accepted and removed. MAJOR, MINOR, PATCH at most 2^31-1."}
LABEL_STRING = {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_LENGTH, "pattern": "\\S"}
LABEL_VALUE = {"oneOf": [LABEL_STRING, {"type": "array", "items": LABEL_STRING, "minItems": 1, "maxItems": MAX_VALUES}]}
TIMESTAMP = {"type": "string", "format": "date-time"}
SIGNATURE = {
    "type": ["object", "null"],
    "description": "Result of the image signature check at registration; null when none applied.",
    "properties": {"verified": {"type": "boolean"}, "key_id": {"type": ["string", "null"]}},
}

CORE_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["path", "message"],
                    "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
    "Labels": {
        "type": "object",
        "required": ["signal_type", "severity", "environment", "component"],
        "maxProperties": MAX_LABELS,
        "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,62}$"},
        "additionalProperties": LABEL_VALUE,
    },
    "NewVersion": {
        "type": "object",
        "additionalProperties": False,
        "required": ["workflow_id", "version", "title", "description", "labels", "container_image", "parameters"],
        "properties": {
            "workflow_id": {"type": "string", "pattern": WORKFLOW_ID_PATTERN},
            "version": VERSION,
            "title": {"type": "string", "maxLength": 200},
            "description": {"type": "string", "maxLength": 8000},
            "labels": {"$ref": "#/components/schemas/Labels"},
            "container_image": {"type": "string", "pattern": "@sha256:[a-f0-9]{64}$"},
            "parameters": {"type": "object", "description": "JSON Schema (2020-12) object schema of the parameters."},
            "status": {"type": "string", "enum": ["active", "draft"], "default": "active"},
        },
    },
    "Version": {
        "type": "object",
        "properties": {
            "workflow_id": {"type": "string"},
            "version": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "labels": {"$ref": "#/components/schemas/Labels"},
            "container_image": {"type": "string"},
            "parameters": {"type": "object"},
            "status": {"type": "string", "enum": ["draft", "active", "deprecated"]},
            "content_hash": {"type": "string", "pattern": "^[a-f0-9]{64}$"},
            "created_at": TIMESTAMP,
            "created_by": {"type": "string"},
            "enabled": {"type": "boolean"},
            "is_latest": {"type": "boolean"},
            "signature": SIGNATURE,
        },
    },
    "VersionPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Version"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "StatusChangeRecord": {
        "type": "object",
        "properties": {
            "field": {"type": "string"},
            "from": {"type": ["string", "null"]},
            "to": {"type": "string"},
            "reason": {"type": "string"},
            "changed_by": {"type": "string"},
            "changed_at": TIMESTAMP,
        },
    },
    "VersionHistory": {
        "type": "object",
        "properties": {
            "workflow_id": {"type": "string"},
            "items": {
                "type": "array",
                "items": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Version"},
                        {
                            "type": "object",
                            "properties": {
                                "status_changes": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/StatusChangeRecord"},
                                }
                            },
                        },
                    ]
                },
            },
            "workflow_changes": {"type": "array", "items": {"$ref": "#/components/schemas/StatusChangeRecord"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Workflow": {
        "allOf": [
            {"$ref": "#/components/schemas/Version"},
            {
                "type": "object",
                "properties": {
                    "latest_version": {"type": ["string", "null"]},
                    "versions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "version": {"type": "string"},
                                "status": {"type": "string"},
                                "created_at": TIMESTAMP,
                            },
                        },
                    },
                },
            },
        ]
    },
    "EnabledChange": {
        "type": "object",
        "additionalProperties": False,
        "required": ["enabled", "reason"],
        "properties": {"enabled": {"type": "boolean"}, "reason": REASON},
    },
    "StatusChange": {
        "type": "object",
        "additionalProperties": False,
        "required": ["status", "reason"],
        "properties": {
            "status": {"type": "string", "enum": ["active", "deprecated"]},
            "reason": REASON,
        },
    },
    "Rollback": {
        "type": "object",
        "additionalProperties": False,
        "required": ["to_version", "reason"],
        "properties": {
            "to_version": {**VERSION, "description": "An active version (SemVer; a leading v is accepted)."},
            "reason": REASON,
        },
    },
    "RollbackResult": {
        "type": "object",
        "properties": {
            "workflow_id": {"type": "string"},
            "latest_version": {"type": "string"},
            "deprecated_versions": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Health": {"type": "object", "properties": {"status": {"type": "string"}, "database": {"type": "string"}}},
}


def _route_modules() -> list[Any]:
    from chalicelib.routes import executions, ops, playbooks, registrations, search

    return [playbooks, ops, search, registrations, executions]


@cache
def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas = dict(CORE_SCHEMAS)
    for module in _route_modules():
        for path, operations in module.OPENAPI_PATHS.items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(getattr(module, "OPENAPI_SCHEMAS", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Remediation Workflow Catalog",
            "version": "1.1.0",
            "description": "Register, search, validate and execute container-based remediation workflows. "
            "Errors are RFC 7807 application/problem+json.",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API key with scopes: catalog:read, catalog:write, registrations:write, "
                    "executions:write, admin.",
                }
            },
        },
    }
