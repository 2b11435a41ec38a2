"""Every request contract of the API, each defined once as a JSON Schema (draft 2020-12).

A contract is what a request body or a query string must look like: types, required fields,
limits (from domain/limits.py), enums, patterns, and no unknown fields (a misspelled hard filter
must never widen a result silently). The HTTP edge validates with it, the OpenAPI document and
the MCP tools' ``inputSchema`` are generated from it, and the domain's typed commands are built
from a value that passed it. Rules a JSON Schema cannot say (SemVer bounds, image references,
the parameter-schema rules) stay in the domain modules and add their errors to the same list.

Shared pieces live in ``DEFS`` and are referenced as ``#/$defs/<Name>`` (the OpenAPI document maps
them to ``#/components/schemas/<Name>``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import limits
from chalicelib.domain.errors import FieldError, ImmutableField, NotFound, ValidationFailed
from chalicelib.domain.validation import schema_errors
from chalicelib.domain.versions import normalize_version
from chalicelib.domain.vocabularies import (
    AlertStatus,
    CircuitState,
    ExecutionStatus,
    FinallyWhen,
    OwnerKind,
    RecommendationStatus,
    ResourceEventType,
    WorkflowStatus,
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


NON_BLANK = limits.NON_BLANK
LABEL_STRING = {
    "type": "string", "minLength": 1, "maxLength": limits.MAX_LABEL_VALUE, "pattern": limits.LABEL_VALUE_PATTERN,
    "x-message": f"must be a non-empty string of at most {limits.MAX_LABEL_VALUE} characters, without control "
                 "characters",
}
# One shape per branch (the portable subset of JSON Schema that function-calling clients accept); the
# validator reports the branch of the value's own type, so errors point at the very item that is wrong.
LABEL_VALUE = {
    "anyOf": [LABEL_STRING, {"type": "array", "items": LABEL_STRING, "minItems": 1,
                             "maxItems": limits.MAX_LABEL_VALUES}],
    "x-type-message": "must be a string or a list of strings",
}
# Names given by people or alerts: no control characters, not only blanks.
IDENTIFIER_TEXT = limits.IDENTIFIER_TEXT
# Kubernetes names that are DNS-1123 labels: namespaces, clusters.
DNS_LABEL_MESSAGE = "must be a DNS-1123 label: lowercase letters, digits and '-', 1-63 characters"
DNS_LABEL = {"type": "string", "pattern": limits.DNS_LABEL_PATTERN, "maxLength": limits.MAX_DNS_LABEL}
CLUSTER_NAME = {"type": "string", "pattern": limits.CLUSTER_NAME_PATTERN, "maxLength": limits.MAX_DNS_LABEL,
                "x-message": DNS_LABEL_MESSAGE}
LABEL_KEYS = {"type": "string", "pattern": limits.LABEL_KEY_PATTERN,
              "x-message": "label keys are lower_snake_case, at most 63 characters"}


def _labels(required: bool, description: str) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object", "description": description, "maxProperties": limits.MAX_LABELS,
        "propertyNames": LABEL_KEYS, "additionalProperties": LABEL_VALUE,
    }
    if required:
        schema["required"] = list(limits.REQUIRED_LABELS)
        schema["x-required-message"] = 'is required (use "*" for any)'
    return schema


INCIDENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "signal_type"],
    "x-required-message": "is required and must be a non-empty string",
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": limits.MAX_INCIDENT_ID, "pattern": IDENTIFIER_TEXT},
        "signal_type": {"type": "string", "minLength": 1, "maxLength": limits.MAX_SIGNAL_TYPE,
                        "pattern": IDENTIFIER_TEXT},
        **{key: {**LABEL_STRING, "description": f"The incident's {key} label; binds what may run."}
           for key in limits.INCIDENT_LABELS if key != "signal_type"},
        "business_context": ref("BusinessContext"),
        "alert_fingerprint": {
            "type": "string", "pattern": limits.ALERT_FINGERPRINT_PATTERN,
            "description": "The fingerprint of the Alertmanager alert this incident is (as its webhook sends it): the "
                           "alert whose resolution judges the execution; without it, the alerts named like "
                           "signal_type in the target's namespace.",
            "x-message": "must be an Alertmanager fingerprint: 16 lowercase hexadecimal digits",
        },
    },
    "description": "The incident: id and signal_type, its labels (severity, environment, component, priority) "
                   "and business context, the alert it is (alert_fingerprint), and any other context as JSON "
                   f"(at most {limits.MAX_INCIDENT_BYTES} bytes, {limits.MAX_INCIDENT_DEPTH} levels deep). "
                   "Every label it carries, signal_type and business_context entries included, is applied to the "
                   "workflow with the search hard-filter rule (a list value: each of its values).",
    "x-type-message": "is required: an object with at least id and signal_type",
}

STEP_PARAMETER_VALUE = {
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
    "x-type-message": 'must be a string, a number or true/false, or "$(params.NAME)" for a parameter of the composite',
}


def _step(extra: dict[str, Any]) -> dict[str, Any]:
    """A step of a composite workflow (``extra``: run_after for steps, when for finally steps)."""
    return {
        "type": "object", "additionalProperties": False, "required": ["name", "workflow_id", "version"],
        "properties": {
            "name": {"type": "string", "pattern": limits.STEP_NAME_PATTERN,
                     "description": "Unique among steps and finally steps; the Tekton task's name.",
                     "x-message": DNS_LABEL_MESSAGE},
            "workflow_id": ref("WorkflowId"),
            "version": {"type": "string", "minLength": 1, "maxLength": limits.MAX_VERSION_RANGE,
                        "description": "An npm-style SemVer range (1.2.3, ^1.2.0, ~1.2, 1.x, >=1.2.0 <2.0.0, "
                                       "1.0.0 - 1.4, ... || ...): the highest active version in range runs."},
            "parameters": {
                "type": "object", "default": {}, "maxProperties": limits.MAX_PARAMETERS,
                "propertyNames": {"type": "string", "pattern": limits.PARAMETER_NAME_PATTERN,
                                  "x-message": "parameter names are environment variable names ([A-Z][A-Z0-9_]*)"},
                "additionalProperties": STEP_PARAMETER_VALUE,
                "description": 'Parameters of the step\'s workflow: a value, or "$(params.NAME)" to pass a parameter '
                               "of the composite.",
            },
            **extra,
        },
    }


GUARD_SETTING_DESCRIPTIONS = {
    "cooldown_seconds": "Refuse an execution on a target where one of this workflow finished less than this long ago.",
    "max_consecutive_failures": "Refuse an execution on a target where this many executions of this workflow failed "
                                "in a row, until an operator clears the streak.",
    "max_executions_per_hour": "At most this many executions of this workflow requested per hour, over every target "
                               "and cluster.",
    "max_concurrent": "At most this many executions of this workflow active at once, over every target and cluster.",
}

DEFS: dict[str, dict[str, Any]] = {
    "WorkflowId": {
        "type": "string", "pattern": limits.WORKFLOW_ID_PATTERN,
        "not": {"enum": list(limits.RESERVED_WORKFLOW_IDS)},
        "description": "A DNS-1123 label (lowercase letters, digits and '-', 1-63 characters).",
        "x-message": "must be a DNS-1123 label: lowercase letters, digits and '-', 1-63 characters "
                     f"(and not one of the reserved {', '.join(limits.RESERVED_WORKFLOW_IDS)})",
    },
    "SemVer": {
        "type": "string", "maxLength": limits.MAX_VERSION_LENGTH, "pattern": limits.SEMVER_PATTERN,
        "description": "SemVer 2.0.0; a leading v is accepted and removed. MAJOR, MINOR and PATCH at most "
                       f"{limits.MAX_VERSION_COMPONENT} (2^31-1), numeric pre-release identifiers at most "
                       f"{limits.PRERELEASE_DIGITS} digits, {limits.MAX_VERSION_LENGTH} characters in all.",
        "x-message": "must be a semantic version (MAJOR.MINOR.PATCH[-pre][+build]; MAJOR, MINOR and PATCH at most "
                     f"{limits.MAX_VERSION_COMPONENT}, numeric pre-release identifiers at most "
                     f"{limits.PRERELEASE_DIGITS} digits)",
    },
    "Reason": {
        "type": "string", "minLength": 1, "maxLength": limits.MAX_REASON, "pattern": NON_BLANK,
        "description": "Why; kept in the history.",
        "x-message": f"is required: say why (at most {limits.MAX_REASON} characters), it is kept in the history",
    },
    "Labels": _labels(True, "Workflow labels: signal_type, severity, environment and component are required "
                            '(a value may be "*"); other lower_snake_case keys (priority, business context) '
                            "are optional. A value is a string or a list of strings."),
    "BusinessContext": _labels(False, "Business context labels (e.g. business_category, risk_tolerance)."),
    "Incident": INCIDENT,
    "Target": {
        "type": "object", "additionalProperties": False, "required": ["kind", "name"],
        "x-type-message": "is required: the resource the remediation acts on, {kind, name, namespace?, cluster?}",
        "description": "The resource the remediation acts on; at most one active execution per target.",
        "properties": {
            "kind": {"type": "string", "maxLength": 63, "pattern": limits.TARGET_KIND_PATTERN,
                     "description": "e.g. Deployment, Node.",
                     "x-message": "must be a Kubernetes kind: an uppercase letter, then letters or digits "
                                  "(at most 63)"},
            "name": {"type": "string", "maxLength": limits.MAX_TARGET_NAME, "pattern": limits.TARGET_NAME_PATTERN,
                     "description": "A DNS-1123 subdomain, as Kubernetes names resources.",
                     "x-message": "must be a Kubernetes name (DNS-1123 subdomain): lowercase letters, digits and '-' "
                                  "in dot-separated parts that start and end with a letter or digit (at most 253)"},
            "namespace": {**DNS_LABEL, "pattern": limits.TARGET_NAMESPACE_PATTERN,
                          "description": "A DNS-1123 label; omitted for a cluster-scoped resource.",
                          "x-message": DNS_LABEL_MESSAGE},
            "cluster": {**CLUSTER_NAME, "description": "The cluster the resource is in; its runner runs the "
                                                       f"execution. Omitted: {limits.DEFAULT_CLUSTER!r}."},
        },
    },
    "Step": _step({
        "run_after": {
            "type": "array", "maxItems": limits.MAX_STEPS, "default": [],
            "items": {"type": "string", "pattern": limits.STEP_NAME_PATTERN, "x-message": "must name a step"},
            "description": "Names of steps that must finish first; steps with no dependency between them run in "
                           "parallel.",
        },
    }),
    "FinallyStep": _step({
        "when": {
            "type": "string", "enum": list(FinallyWhen), "default": FinallyWhen.ALWAYS,
            "description": "Runs when the steps all succeeded, when one failed (e.g. a rollback), or always.",
            "x-message": "must be succeeded, failed or always",
        },
    }),
    "Owner": {
        "type": "object", "additionalProperties": False, "required": ["kind"],
        "description": 'Who owns a workflow: {"kind": "resource", "cluster", "namespace"} (the origin of the '
                       'RemediationWorkflow that first registered it) or {"kind": "api"} (created over REST).',
        "x-type-message": 'must be {"kind": "resource", "cluster", "namespace"} or {"kind": "api"}',
        "properties": {
            "kind": {"type": "string", "enum": list(OwnerKind)},
            "cluster": CLUSTER_NAME,
            "namespace": {**DNS_LABEL, "x-message": "must be a Kubernetes namespace name"},
        },
        "if": {"properties": {"kind": {"const": OwnerKind.RESOURCE}}, "required": ["kind"]},
        "then": {"required": ["cluster", "namespace"], "x-required-message": "is required for a resource owner"},
        "else": {"properties": {
            "cluster": {"not": {}, "x-message": 'belongs to a resource owner only ({"kind": "api"} has no cluster)'},
            "namespace": {"not": {}, "x-message": 'belongs to a resource owner only ({"kind": "api"} has no '
                                                  'namespace)'}}},
    },
    "GuardSettings": {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "description": "A workflow's guards (README, \"Guardrails\"); a setting given null goes back to the "
                       "configured default (DEFAULT_<NAME>).",
        "x-type-message": "must be an object of guard settings (" + ", ".join(limits.GUARD_SETTING_BOUNDS) + ")",
        "properties": {
            name: {"type": ["integer", "null"], "minimum": low, "maximum": high,
                   "description": GUARD_SETTING_DESCRIPTIONS[name],
                   "x-message": f"must be an integer from {low} to {high} (or null: the configured default)"}
            for name, (low, high) in limits.GUARD_SETTING_BOUNDS.items()
        },
    },
    "LabelFilters": {
        "type": "object", "maxProperties": limits.MAX_LABELS, "propertyNames": LABEL_KEYS,
        "additionalProperties": LABEL_STRING,
        "description": "Hard filters: a workflow matches when its value equals (case-insensitive), contains (list) "
                       'or is "*"; optional labels it does not declare do not exclude it.',
    },
}


@dataclass(frozen=True)
class Contract:
    """A named request contract. ``immutable`` fields (and, with ``others_immutable``, any field but the
    declared ones) answer 409 immutable-field rather than 400: they name things that exist but cannot change."""

    name: str
    schema: Mapping[str, Any]
    detail: str = "The request is not valid; see errors."
    immutable: frozenset[str] = field(default_factory=frozenset)
    others_immutable: bool = False
    immutable_detail: str = ""

    @property
    def json_schema(self) -> dict[str, Any]:
        """The self-contained schema (the shared definitions it uses included), e.g. for an MCP tool."""
        used = definitions_used(self.schema)
        return {**self.schema, "$defs": {name: DEFS[name] for name in sorted(used)}} if used else dict(self.schema)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.schema.get("properties", {}))

    def errors(self, value: object, unknown: str = "unknown field") -> list[FieldError]:
        return schema_errors(self.json_schema, value, unknown=unknown)

    def check(self, value: object) -> None:
        """Raises ImmutableField for fields that cannot change, else ValidationFailed listing every problem."""
        self.check_immutable(value)
        errors = self.errors(value)
        if errors:
            raise ValidationFailed(self.detail, errors)

    def check_immutable(self, value: object) -> None:
        if not isinstance(value, Mapping):
            return
        extra = set(value) - self.fields
        frozen = sorted(extra if self.others_immutable else extra & self.immutable)
        if frozen:
            raise ImmutableField(f"{', '.join(frozen)} cannot be changed {self.immutable_detail}; only "
                                 f"{', '.join(sorted(self.fields))} can. Versions are immutable: publish a new "
                                 "version to change content.")


def label_errors(labels: object, path: str, required: bool) -> list[FieldError]:
    """Problems of a labels object at ``path`` (workflow labels, or business context when not ``required``)."""
    schema = DEFS["Labels" if required else "BusinessContext"]
    return schema_errors(schema, labels, root=path)


def published(node: Any, definitions: str = "#/$defs/") -> Any:
    """A contract schema as clients see it (MCP tools, OpenAPI): the internal ``x-`` wording dropped, references
    pointing at ``definitions`` (OpenAPI keeps them under ``#/components/schemas/``)."""
    if isinstance(node, list):
        return [published(item, definitions) for item in node]
    if not isinstance(node, Mapping):
        return node
    return {key: value.replace("#/$defs/", definitions, 1) if key == "$ref" and isinstance(value, str)
            else published(value, definitions) for key, value in node.items() if not key.startswith("x-")}


def definitions_used(schema: Mapping[str, Any]) -> set[str]:
    """The names of DEFS that ``schema`` refers to, directly or through other definitions."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        text = json.dumps(pending.pop())
        for name in DEFS:
            if name not in found and f'"#/$defs/{name}"' in text:
                found.add(name)
                pending.append(DEFS[name])
    return found


def _object(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


# Fields of a stored version that no request may change (content and identity).
VERSION_FIELDS = frozenset({
    "title", "description", "labels", "container_image", "parameters", "version", "workflow_id", "content_hash",
    "created_at", "created_by", "status", "enabled", "steps", "finally",
})

# --- request bodies ---------------------------------------------------------------------------
NEW_VERSION = Contract("NewVersion", _object({
    "workflow_id": ref("WorkflowId"),
    "version": ref("SemVer"),
    "title": {"type": "string", "minLength": 1, "maxLength": limits.MAX_TITLE, "pattern": NON_BLANK},
    "description": {"type": "string", "minLength": 1, "maxLength": limits.MAX_DESCRIPTION, "pattern": NON_BLANK},
    "labels": ref("Labels"),
    "container_image": {
        "type": "string", "maxLength": limits.MAX_IMAGE_REFERENCE, "pattern": limits.PINNED_IMAGE_PATTERN,
        "description": "An image reference pinned by digest (...@sha256:<64 hex>). Exactly one of container_image "
                       "and steps.",
        "x-message": "must be an image reference pinned by digest (...@sha256:<64 hex>); a tag alone can change",
    },
    "parameters": {"type": "object", "description": "JSON Schema (2020-12) object schema of the parameters.",
                   "x-type-message": 'must be a JSON Schema object (use {"type": "object"} for none)'},
    "steps": {"type": "array", "items": ref("Step"), "minItems": 1, "maxItems": limits.MAX_STEPS,
              "description": "A composite workflow: the catalog workflows it runs, as one Tekton PipelineRun. "
                             "Exactly one of container_image and steps."},
    "finally": {"type": "array", "items": ref("FinallyStep"), "maxItems": limits.MAX_STEPS,
                "description": "Steps of a composite that run after the others, by their outcome (when)."},
    "status": {"type": "string", "enum": [WorkflowStatus.ACTIVE, WorkflowStatus.DRAFT],
               "default": WorkflowStatus.ACTIVE},
}, ("workflow_id", "version", "title", "description", "labels", "parameters"),
    # Exactly one of container_image and steps; finally only with steps (domain/workflows.py words each per field).
    oneOf=[{"required": ["container_image"]}, {"required": ["steps"]}], dependentRequired={"finally": ["steps"]}),
    detail="The workflow version is not valid; see errors.")

WORKFLOW_CHANGE = Contract(
    "WorkflowChange",
    _object({"enabled": {"type": "boolean", "description": "false: search skips it and it cannot be executed."},
             "approval_required": {"type": "boolean", "description": "true: each execution waits for a person to "
                                                                     "approve it before its PipelineRun is released."},
             "owner": {**ref("Owner"), "description": "Move the workflow to another owner (an admin key without "
                                                      "namespace or cluster limits only; audited)."},
             "guards": ref("GuardSettings"),
             "circuit": {"type": "string", "enum": [CircuitState.CLOSED],
                         "description": "Close the workflow's circuit breaker (it opens by itself); executions "
                                        "finished before count no more.",
                         "x-message": "can only be closed: the breaker opens by itself"},
             "reason": ref("Reason")}, ("reason",),
            anyOf=[{"required": [name]} for name in ("enabled", "approval_required", "owner", "guards", "circuit")],
            **{"x-message": "send enabled, approval_required, owner, guards, circuit, or several of them"}),
    detail="The change is not valid; see errors.", others_immutable=True, immutable_detail="on a workflow")

STATUS_CHANGE = Contract(
    "StatusChange",
    _object({"status": {"type": "string", "enum": [WorkflowStatus.ACTIVE, WorkflowStatus.DEPRECATED]},
             "reason": ref("Reason")},
            ("status", "reason")),
    detail="The status change is not valid; see errors.", immutable=VERSION_FIELDS - {"status"},
    immutable_detail="on a version's status")

ROLLBACK = Contract(
    "Rollback",
    _object({"to_version": {**ref("SemVer"), "description": "An active version (a leading v is accepted)."},
             "reason": ref("Reason")}, ("to_version", "reason")),
    detail="The rollback is not valid; see errors.", immutable=VERSION_FIELDS, immutable_detail="on a rollback")

SEARCH_REQUEST = Contract("SearchRequest", _object({
    "query": {"type": "string", "maxLength": limits.MAX_QUERY_LENGTH,
              "description": "Incident text (alert name, summary, description). Optional."},
    "labels": ref("LabelFilters"),
    "top_k": {"type": "integer", "minimum": 1, "maximum": limits.MAX_TOP_K, "default": limits.DEFAULT_TOP_K},
    "min_score": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
}), detail="The search request is not valid; see errors.")

VALIDATE_REQUEST = Contract("ParametersRequest", _object({
    "parameters": {"type": "object", "default": {}, "description": "Parameter name -> value.",
                   "x-type-message": "must be an object of parameter name -> value"},
}))

EXECUTION_REQUEST = Contract("NewExecution", _object({
    "workflow_id": ref("WorkflowId"),
    "version": {**ref("SemVer"), "description": "A version; omitted: the latest active one."},
    "parameters": {"type": "object", "default": {}, "x-type-message": "must be an object of parameter name -> value"},
    "incident": ref("Incident"),
    "target": ref("Target"),
    "dry_run": {"type": "boolean", "default": False,
                "description": "true: answer 200 with what would happen (outcome, every refusal, the PipelineRun); "
                               "nothing is written and no lock is taken."},
}, ("workflow_id", "incident", "target")), detail="The execution request is not valid; see errors.")

FAILURE_STREAK_CLEAR = Contract("FailureStreakClear", _object({
    "target": {**ref("Target"), "description": "The target whose failure streak of this workflow ends."},
    "reason": ref("Reason"),
}, ("target", "reason")), detail="The clear is not valid; see errors.")

DECISION = Contract("ApprovalDecision", _object({"reason": ref("Reason")}, ("reason",)),
                    detail="The decision is not valid; see errors.")

NEW_API_KEY = Contract("NewApiKey", _object({
    "name": {"type": "string", "minLength": 1, "maxLength": limits.MAX_KEY_NAME, "pattern": IDENTIFIER_TEXT,
             "description": "Who or what uses the key (shown in lists and logged as the key's name)."},
    "scopes": {"type": "array", "minItems": 1, "uniqueItems": True,
               "items": {"type": "string", "enum": list(limits.API_SCOPES)},
               "description": "admin implies every scope."},
    "namespaces": {"type": "array", "minItems": 1, "maxItems": 64, "uniqueItems": True,
                   "items": {**DNS_LABEL, "x-message": "must be a Kubernetes namespace (DNS-1123 label)"},
                   "description": "Limit the key to these Kubernetes namespaces: it may register and reconcile "
                                  "RemediationWorkflow resources of these only (a namespaced watcher's key), and act "
                                  "only on executions whose target is in one of them. Absent: every namespace. A "
                                  "key limited to namespaces creates keys limited to some of its own only."},
    "cluster": {**CLUSTER_NAME,
                "description": "Bind the key to this cluster (a DNS-1123 label): its registrations and "
                               "reconciliations are that cluster's. Absent: not bound, the key acts as cluster "
                               f"{limits.DEFAULT_CLUSTER!r}. A key bound to a cluster creates keys bound to it only."},
}, ("name", "scopes")), detail="The API key request is not valid; see errors.")

REPORTED_TIME = {"type": "string", "format": "date-time", "maxLength": limits.MAX_TIMESTAMP,
                 "x-message": "must be an RFC 3339 date-time with a zone, e.g. 2026-03-01T10:00:00Z"}
EXECUTION_UPDATE = Contract("ExecutionStatusUpdate", _object({
    "status": {"type": "string", "enum": [ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED],
               "description": "running again is the runner's heartbeat: it renews the lease."},
    "message": {"type": "string", "maxLength": limits.MAX_MESSAGE},
    "reason": {"type": "string", "minLength": 1, "maxLength": limits.MAX_EXECUTION_REASON,
               "pattern": limits.IDENTIFIER_TEXT,
               "description": "Why it ended so: the PipelineRun's reason (Tekton's Succeeded condition, e.g. "
                              "PipelineRunTimeout)."},
    "pipeline_run": _object({
        "namespace": DNS_LABEL,
        "name": {"type": "string", "pattern": limits.DNS_SUBDOMAIN_PATTERN, "maxLength": limits.MAX_DNS_SUBDOMAIN},
        "uid": {"type": ["string", "null"], "maxLength": limits.MAX_REPORTED_UID,
                "pattern": limits.IDENTIFIER_TEXT},
    }, ("namespace", "name"), description="The PipelineRun that runs the execution."),
    "started_at": {**REPORTED_TIME, "description": "The PipelineRun's start (Tekton's status.startTime)."},
    "finished_at": {**REPORTED_TIME, "description": "Its end (status.completionTime); not before started_at."},
}, ("status",)), detail="The status update is not valid; see errors.")

CLAIM_REQUEST = Contract("ExecutionClaim", _object({
    "runner_id": {"type": "string", "minLength": 1, "maxLength": limits.MAX_RUNNER_ID,
                  "pattern": limits.IDENTIFIER_TEXT,
                  "description": "The runner's name, stable across its restarts (e.g. the pod's hostname).",
                  "x-message": f"must be 1-{limits.MAX_RUNNER_ID} characters, none of them a control character"},
    "max": {"type": "integer", "minimum": 1, "maximum": limits.MAX_CLAIM_ITEMS, "default": 1,
            "description": "At most this many executions newly leased (the runner's free slots)."},
    "wait_seconds": {"type": "integer", "minimum": 0, "maximum": limits.MAX_CLAIM_WAIT_SECONDS, "default": 0,
                     "description": "Long poll: wait up to this long for an execution to be ready."},
}, ("runner_id",)), detail="The claim is not valid; see errors.")

REGISTRATION_EVENT = Contract("RegistrationEvent", _object({
    "event": {"type": "string", "enum": list(ResourceEventType)},
    "object": {"type": "object", "description": "The RemediationWorkflow resource as the API server returns it.",
               "x-type-message": "is required: the RemediationWorkflow resource as the API server returns it"},
}, ("event", "object")), detail="The registration event is not valid; see errors.")

LIVE_RESOURCE = {
    "type": "object", "additionalProperties": False, "required": ["uid", "namespace", "name", "generation"],
    "properties": {
        "uid": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": IDENTIFIER_TEXT},
        "namespace": DNS_LABEL,
        "name": {"type": "string", "pattern": limits.DNS_SUBDOMAIN_PATTERN, "maxLength": limits.MAX_DNS_SUBDOMAIN},
        "generation": {"type": "integer", "minimum": 1, "maximum": limits.MAX_GENERATION},
    },
}
RECONCILE_REQUEST = Contract("ReconcileRequest", _object({
    "scope": _object({"namespace": {
        **DNS_LABEL, "type": ["string", "null"],
        "description": "The namespace the watcher watches; null: every namespace."}}, ("namespace",)),
    "live": {"type": "array", "maxItems": limits.MAX_LIVE_RESOURCES, "items": LIVE_RESOURCE,
             "description": "Every RemediationWorkflow the watcher sees in its scope after a full list."},
}, ("scope", "live")), detail="The reconciliation request is not valid; see errors.")

NEW_RECOMMENDATION = Contract("NewRecommendation", _object({
    # The incident's component (a label string) groups repeats with signal_type, so it must be one string.
    "incident": {**INCIDENT, "properties": {**INCIDENT["properties"], "component": LABEL_STRING},
                 "description": "The incident that had no fitting workflow: id, signal_type and its labels "
                                "(component, severity, environment, ...)."},
    "summary": {"type": "string", "minLength": 1, "maxLength": limits.MAX_RECOMMENDATION_SUMMARY,
                "pattern": NON_BLANK, "description": "What the missing workflow should do, in one sentence."},
    "rationale": {"type": "string", "maxLength": limits.MAX_RECOMMENDATION_RATIONALE,
                  "description": "Why: what the analysis found and why no catalog workflow fits."},
    "proposed_steps": {"type": "array", "maxItems": limits.MAX_PROPOSED_STEPS, "items": {
        "type": "string", "minLength": 1, "maxLength": limits.MAX_PROPOSED_STEP, "pattern": NON_BLANK},
        "description": "The steps such a workflow would take, in order."},
    "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                   "description": "How sure the recommender is that such a workflow is needed (0-1)."},
    "related_workflow_id": {**ref("WorkflowId"),
                            "description": "The closest catalog workflow, when one came near (it must exist)."},
}, ("incident", "summary", "confidence")), detail="The recommendation is not valid; see errors.")

RECOMMENDATION_DECISION = Contract("RecommendationDecision", _object({
    "status": {"type": "string", "enum": [RecommendationStatus.ACCEPTED, RecommendationStatus.DISMISSED]},
    "reason": ref("Reason"),
    "workflow_id": {**ref("WorkflowId"), "description": "Accepting: the workflow an operator registered for it."},
}, ("status", "reason"), **{
    "if": {"properties": {"status": {"const": RecommendationStatus.ACCEPTED}}, "required": ["status"]},
    "then": {"required": ["workflow_id"],
             "x-required-message": "is required to accept: name the workflow an operator registered for it"},
    # Linking a workflow is what accepting means, so dismissing takes none.
    "else": {"properties": {"workflow_id": {"not": {}, "x-message": "only accepting links a workflow; leave it "
                                                                   "out to dismiss"}}},
}), detail="The decision is not valid; see errors.", immutable=frozenset({
    "recommendation_id", "incident", "summary", "rationale", "proposed_steps", "confidence", "related_workflow_id",
    "occurrences", "signal_type", "component", "created_at", "created_by",
}), immutable_detail="on a recommendation")

# Each label's value a string of at most MAX_ALERT_LABEL_VALUE characters.
ALERT_LABELS = {
    "type": "object", "maxProperties": limits.MAX_ALERT_LABELS,
    "additionalProperties": {"type": "string", "maxLength": limits.MAX_ALERT_LABEL_VALUE},
    "description": f"Label name -> string (at most {limits.MAX_ALERT_LABEL_VALUE} characters each).",
    "x-type-message": "must be an object of label name -> string",
}
TEXT_MAP = {"type": "object", "additionalProperties": {"type": "string"},
            "x-type-message": "must be an object of name -> string"}
TIMESTAMP = {"type": "string", "format": "date-time", "maxLength": limits.MAX_TIMESTAMP}
# Alertmanager's webhook body, version "4", as it sends it (docs/operations.md). Unknown fields are accepted
# and ignored, at the top and in each alert: Alertmanager has added fields within version 4 (truncatedAlerts,
# groupKey), and a 4xx makes it drop the notification, so a newer Alertmanager must not lose alerts here.
# Strict where the catalog's record depends on it: the version, each alert's status, times (RFC 3339, checked by
# chalicelib/domain/alerts.py), labels and fingerprint.
ALERT_STATUSES = [AlertStatus.FIRING, AlertStatus.RESOLVED]  # what Alertmanager reports
ALERT = {
    "type": "object", "required": ["status", "labels", "startsAt", "fingerprint"],
    "description": "An alert. Its annotations, generatorURL and any other field are accepted and not recorded (so not "
                   "checked either).",
    "properties": {
        "status": {"type": "string", "enum": ALERT_STATUSES},
        "labels": ALERT_LABELS,
        "startsAt": TIMESTAMP,
        "endsAt": {**TIMESTAMP, "description": "When it resolved; a firing alert's is the zero time "
                                               "0001-01-01T00:00:00Z (ignored)."},
        "fingerprint": {"type": "string", "pattern": limits.ALERT_FINGERPRINT_PATTERN,
                        "x-message": "must be an Alertmanager fingerprint: 16 lowercase hexadecimal digits"},
    },
    "if": {"properties": {"status": {"const": AlertStatus.RESOLVED}}, "required": ["status"]},
    "then": {"required": ["endsAt"], "x-required-message": "is required: when the alert resolved"},
}
ALERTMANAGER_NOTIFICATION = Contract("AlertmanagerNotification", {
    "type": "object", "required": ["version", "alerts"],
    "description": "Alertmanager's webhook notification (webhook_configs, version 4). Fields not listed are "
                   "accepted and ignored.",
    "properties": {
        "version": {"const": "4", "description": "The webhook format; only version 4 is understood.",
                    "x-message": 'must be "4": the catalog understands version 4 of Alertmanager\'s webhook'},
        "receiver": {"type": "string"},
        "status": {"type": "string", "enum": ALERT_STATUSES},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer", "minimum": 0,
                            "description": "Alerts Alertmanager left out (max_alerts); the catalog never hears of "
                                           "them in this notification."},
        "groupLabels": TEXT_MAP, "commonLabels": TEXT_MAP, "commonAnnotations": TEXT_MAP,
        "externalURL": {"type": "string"},
        "alerts": {
            "type": "array", "minItems": 1, "maxItems": limits.MAX_ALERTS_PER_NOTIFICATION,
            "description": f"At most {limits.MAX_ALERTS_PER_NOTIFICATION} alerts, each fingerprint once "
                           "(set max_alerts in the webhook configuration).",
            "items": ALERT,
        },
    },
}, detail="The Alertmanager notification is not valid; see errors. Nothing was recorded.")

MCP_MESSAGE = Contract("McpMessage", {
    "type": "object", "required": ["jsonrpc", "method"],
    "description": "One JSON-RPC 2.0 request or notification of the Model Context Protocol (batches are not "
                   "supported). README.md, \"Agent interface (MCP)\", lists the methods of each protocol era.",
    "properties": {
        "jsonrpc": {"const": "2.0"},
        "id": {"type": ["string", "integer"], "description": "The request id; a notification has none."},
        "method": {"type": "string", "minLength": 1, "description": "initialize, ping, tools/list, tools/call "
                   "(2025-06-18, 2025-11-25); server/discover, tools/list, tools/call (2026-07-28)."},
        "params": {"type": "object", "x-type-message": "must be an object"},
    },
}, detail="The body is not one JSON-RPC 2.0 request or notification.")

# --- path parameters --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PathParameter:
    """A path parameter, declared once. ``schema``: its value's schema, as an MCP tool takes it for an argument
    (the OpenAPI document gives the parameter that schema's pattern); ``description``: the OpenAPI parameter's;
    ``normalise``: the value as the services take it, applied at the edge to REST routes and MCP tools alike
    (chalicelib/http/endpoint.py), NotFound when the text cannot name anything."""

    schema: Mapping[str, Any]
    description: str
    normalise: Callable[[str], str] = field(default=lambda raw: raw)

    @property
    def pattern(self) -> str | None:
        target = self.schema.get("$ref", "")
        resolved = DEFS[target.rsplit("/", 1)[1]] if target.startswith("#/$defs/") else self.schema
        return resolved.get("pattern")


def _semantic_version(raw: str) -> str:
    try:
        return normalize_version(raw)
    except ValueError:
        raise NotFound(f"'{raw[:64]}' is not a semantic version, so no such version exists.") from None


def _uuid_of(what: str) -> Callable[[str], str]:
    """The canonical form of a UUID naming ``what``; NotFound for text that is not one."""
    def normalise(raw: str) -> str:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise NotFound(f"No {what} '{raw[:64]}'.") from None
    return normalise


def _key_id(raw: str) -> str:
    if len(raw) > limits.MAX_KEY_ID:
        raise NotFound(f"No API key '{raw[:limits.MAX_KEY_ID]}'.")
    return raw


PATH_PARAMETERS: dict[str, PathParameter] = {
    # Services check workflow ids themselves: each route's 404 says what it looked for (a workflow, a version).
    "workflow_id": PathParameter(ref("WorkflowId"), "The workflow id (a DNS-1123 label)."),
    "version": PathParameter({**ref("SemVer"), "description": "A version of the workflow (a leading v is accepted)."},
                             "A semantic version; a leading v is accepted.", _semantic_version),
    "execution_id": PathParameter({"type": "string", "maxLength": 64, "description": "The execution id (a UUID)."},
                                  "The execution id (a UUID).", _uuid_of("execution")),
    "registration_id": PathParameter({"type": "string"}, "The id returned by POST /api/v1/registrations.",
                                     _uuid_of("registration")),
    "key_id": PathParameter({"type": "string"}, "The key_id of an API key (not the key itself).", _key_id),
    "recommendation_id": PathParameter({"type": "string"}, "The recommendation id (a UUID).",
                                       _uuid_of("recommendation")),
}

# --- query strings (values arrive as text; the edge converts them to the declared type first) -----
LIMIT = {"type": "integer", "minimum": 1, "maximum": limits.MAX_PAGE_SIZE, "default": limits.DEFAULT_PAGE_SIZE,
         "description": f"Page size, 1-{limits.MAX_PAGE_SIZE} (default {limits.DEFAULT_PAGE_SIZE})."}
CURSOR = {"type": "string", "maxLength": limits.MAX_CURSOR, "description": "next_cursor of the previous page."}
# The label.<key>=<value> filters: one family of parameters (OpenAPI documents it as a deepObject, label[key]).
LABEL_FAMILY = "label"
LABEL_PREFIX = f"{LABEL_FAMILY}."
LABEL_PARAMETER = f"^{LABEL_FAMILY}\\.{limits.LABEL_KEY_PATTERN.removeprefix('^')}"
LABEL_FILTER = {**LABEL_STRING, "description": "Hard label filter: label.<key>=<value> (case-insensitive, * matches)."}



def label_filters(values: Mapping[str, Any]) -> dict[str, Any]:
    """The label filters of a query string, by key (``label.<key>`` without its prefix)."""
    return {name.removeprefix(LABEL_PREFIX): value for name, value in values.items() if name.startswith(LABEL_PREFIX)}

def _query(name: str, properties: dict[str, Any], required: tuple[str, ...] = (), labels: bool = False) -> Contract:
    extra = {"patternProperties": {LABEL_PARAMETER: LABEL_FILTER}} if labels else {}
    return Contract(name, _object(properties, required, **extra), detail="Invalid query string; see errors.")


NO_QUERY = _query("NoQuery", {})
PAGE_QUERY = _query("PageQuery", {"limit": LIMIT, "cursor": CURSOR})
LIST_WORKFLOWS_QUERY = _query("ListWorkflowsQuery", {
    "status": {"type": "string", "enum": list(WorkflowStatus), "default": WorkflowStatus.ACTIVE,
               "description": "draft, active (default) or deprecated."},
    "enabled": {"type": "boolean", "description": "Only enabled (true) or disabled (false) workflows."},
    "signal_type": {**LABEL_STRING, "description": "Hard label filter on signal_type."},
    "limit": LIMIT, "cursor": CURSOR,
}, labels=True)
VERSIONS_QUERY = _query("VersionsQuery", {"workflow_id": ref("WorkflowId"), "limit": LIMIT, "cursor": CURSOR},
                        ("workflow_id",))
SEARCH_QUERY = _query("SearchQuery", {
    "query": SEARCH_REQUEST.schema["properties"]["query"],
    **{key: {**LABEL_STRING, "description": f"Hard filter on the {key} label (case-insensitive; * matches anything)."}
       for key in (*limits.REQUIRED_LABELS, "priority")},
    "top_k": {**SEARCH_REQUEST.schema["properties"]["top_k"],
              "description": f"Results wanted, 1-{limits.MAX_TOP_K} (default {limits.DEFAULT_TOP_K})."},
    "min_score": {**SEARCH_REQUEST.schema["properties"]["min_score"],
                  "description": "Drop results scoring below this."},
}, labels=True)
EXECUTIONS_QUERY = _query("ExecutionsQuery", {
    "workflow_id": ref("WorkflowId"),
    "version": ref("SemVer"),
    "status": {"type": "string", "enum": list(ExecutionStatus)},
    "limit": LIMIT, "cursor": CURSOR,
})
RECOMMENDATIONS_QUERY = _query("RecommendationsQuery", {
    "status": {"type": "string", "enum": list(RecommendationStatus), "default": RecommendationStatus.OPEN,
               "description": "open (default), accepted or dismissed."},
    "limit": LIMIT, "cursor": CURSOR,
})
