"""The JSON Schema of each response body, for the OpenAPI document (chalicelib/http/openapi.py): the components
that the routes' ``responses`` name. The bodies are built in chalicelib/http/views.py; tests/support/responses.py
validates every 2xx body the tests receive against these, undocumented fields included."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.effectiveness import VERDICTS
from chalicelib.domain.executions import COUNTED_STATES, EXECUTION_STATUSES, REDACTED, RUNNABLE
from chalicelib.domain.guards import CIRCUIT_STATES, DRY_RUN_OUTCOMES, GUARD_NAMES
from chalicelib.domain.limits import DEFAULT_CLUSTER, GUARD_SETTING_BOUNDS, INCIDENT_LABELS
from chalicelib.domain.vocabularies import (
    GuardVerdict,
    RecommendationStatus,
    RegistrationReason,
    RegistrationStatus,
    ResourceEventType,
    SignatureMode,
    WorkflowStatus,
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
STRING_LIST = {"type": "array", "items": {"type": "string"}}
NULLABLE_IMAGE = {"type": ["string", "null"], "description": "Digest-pinned image; null for a composite workflow."}
SIGNATURE = {
    "type": ["object", "null"],
    "description": "Result of the image signature check at registration; null when none applied.",
    "properties": {"verified": {"type": "boolean"}, "key_id": {"type": ["string", "null"]}},
}
SOURCE_PROPERTIES: dict[str, Any] = {
    "uid": {"type": "string"},
    "cluster": {"type": "string", "description": "The cluster of the key that registered it."},
    "namespace": {"type": "string"}, "name": {"type": "string"}, "generation": {"type": "integer"}}
SOURCE: dict[str, Any] = {"type": ["object", "null"], "properties": SOURCE_PROPERTIES}
APPROVAL_REQUIRED_BY = {
    "type": "object", "required": ["workflow", "steps"],
    "description": "What requires the approval, as decided when the execution was requested (every image that runs "
                   "is covered): the workflow itself, and/or the steps of a composite whose workflows require it.",
    "properties": {
        "workflow": {"type": "boolean", "description": "The executed workflow itself requires approval."},
        "steps": {"type": "array", "description": "A composite's steps that resolved to a workflow requiring "
                  "approval (empty otherwise).", "items": {"type": "object", "required": ["step", "workflow_id"],
                                                           "properties": {"step": {"type": "string"},
                                                                          "workflow_id": {"type": "string"}}}},
    },
}
# What was stored is shown as stored: rows written before a request rule tightened (a pattern, a bound) stay
# readable, so these shapes say what a response holds, not what a new request must satisfy.
STORED_LABELS = {"type": "object", "description": "Labels as stored: a string or a list of strings per key.",
                 "additionalProperties": {"anyOf": [{"type": "string"}, STRING_LIST]}}
STORED_INCIDENT = {
    "type": "object", "required": ["id", "signal_type"],
    "description": "The incident as recorded: its id and signal_type, the labels and business context it carried, "
                   "the alert it is, and any other context it was given.",
    "properties": {"id": {"type": "string"}, "signal_type": {"type": "string"},
                   **{key: {"type": "string"} for key in INCIDENT_LABELS if key != "signal_type"},
                   "business_context": {"type": "object"}, "alert_fingerprint": {"type": "string"}},
    "additionalProperties": True}
STORED_TARGET = {"type": "object", "required": ["kind", "name"], "properties": {
    "kind": {"type": "string"}, "name": {"type": "string"}, "namespace": {"type": "string"},
    "cluster": {"type": "string", "description": "The cluster whose runner runs it."}}}
# What executions came to (domain/effectiveness.py TrackRecord): the stats per version and per signal, and the track
# record of each search result.
OUTCOMES: dict[str, Any] = {
    "executions": {"type": "integer", "description": "Executions recorded, in any status."},
    "succeeded": {"type": "integer"}, "failed": {"type": "integer"},
    "success_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                     "description": "succeeded / (succeeded + failed); null while none has finished."},
    "judged": {"type": "integer", "description": "Successes judged (effective, ineffective or unknown)."},
    "effective": {"type": "integer", "description": "Judged effective: the alerts resolved and stayed resolved."},
    "ineffective": {"type": "integer", "description": "Judged ineffective: an alert was still firing at the end of "
                                                      "the window, or fired again within it."},
    "unknown": {"type": "integer", "description": "Judged unknown: no alert seen, nothing to judge by."},
    "effectiveness_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                           "description": "effective / judged; null while none is judged."},
}
DURATIONS: dict[str, Any] = {
    "mean_duration_seconds": {"type": ["number", "null"], "description": "Mean finished_at - started_at (as the runner "
                              "reported them) of finished executions that started; null when there are none."},
    "median_duration_seconds": {"type": ["number", "null"], "description": "Their median."},
}
EVIDENCE_EPISODE = {"type": "object", "properties": {
    "fingerprint": {"type": "string"}, "alertname": {"type": ["string", "null"]},
    "namespace": {"type": ["string", "null"]}, "fired_at": TIMESTAMP,
    "status": {"type": "string", "description": "firing, resolved, or superseded (its resolution never heard; a "
                                               "later episode began at resolved_at, the latest it ended)."},
    "resolved_at": NULLABLE_TIMESTAMP,
    "fired_again": {"type": "boolean", "description": "It fired after the run finished, within the window."},
    "firing_at_window_end": {"type": "boolean"}}}
EFFECTIVENESS = {
    "type": ["object", "null"],
    "description": "Did it fix the incident (README, \"Effectiveness\")? null unless the execution succeeded. verdict, "
                   "judged_at and evidence are null until window_ends_at (its finish + EFFECTIVENESS_WINDOW_SECONDS) "
                   "has passed; then the verdict is given once and never changes.",
    "required": ["verdict", "judged_at", "window_ends_at", "evidence"],
    "properties": {
        "verdict": {"type": ["string", "null"], "enum": [*VERDICTS, None],
                    "description": "effective: its alerts resolved and did not fire again within the window; "
                                   "ineffective: still firing when it ended, or firing again within it; unknown: no "
                                   "alert seen."},
        "judged_at": NULLABLE_TIMESTAMP, "window_ends_at": NULLABLE_TIMESTAMP,
        "evidence": {"type": ["object", "null"], "properties": {
            "alerts": {"type": "object", "description": "Which alerts counted: {alert_fingerprint} (the incident's), "
                       "or {alertname, namespace} (the incident's signal_type in the target's namespace)."},
            "since": {**TIMESTAMP, "description": "The run's start (its finish when no start was reported): episodes "
                                                 "firing from then to the window's end count."},
            "finished_at": TIMESTAMP, "window_ends_at": TIMESTAMP,
            "episodes": {"type": "array", "items": EVIDENCE_EPISODE,
                         "description": "The episodes that counted (the deciding ones first; at most 50)."},
            "episodes_counted": {"type": "integer"},
            "summary": {"type": "string", "description": "Why, in a sentence."}}},
    },
}
_REGISTRATION_ERROR = {
    "type": "object",
    "required": ["type", "title", "detail"],
    "properties": {
        "type": {"type": "string", "description": "Reason, as on the resource's Ready condition: " + ", ".join(
            f"{reason} ({reason.note})" if reason.note else reason for reason in RegistrationReason) + "."},
        "title": {"type": "string"},
        "detail": {"type": "string", "description": "What exactly was wrong, in words an operator can act on."},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "path": {"type": "string"}, "message": {"type": "string"}}}},
    },
}  # fmt: skip

def page_schema(item: str) -> dict[str, Any]:
    """A list page as http/paging.py ``page_body`` answers it: the items, and the cursor of the next page."""
    return {"type": "object", "properties": {"items": {"type": "array", "items": ref(item)},
                                             "next_cursor": {"type": ["string", "null"]}}}


# The shapes listed in pages: each has the component <Item>Page (a new list of them names it in its responses).
LISTED = ("Version", "Execution", "ApiKey", "Recommendation")

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "active_execution_id": {"type": "string", "description": "target-busy: the execution holding the "
                                                                     "target."},
            "retry_after": {"type": ["integer", "null"], "minimum": 1,
                            "description": "A guard's refusal (" + ", ".join(GUARD_NAMES) + "): seconds after which "
                                           "it may let the execution run (also the Retry-After header); null when "
                                           "waiting does not help and an operator must act."},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}},
        },
    },
    "Version": {
        "type": "object",
        "properties": {
            "workflow_id": {"type": "string"}, "version": {"type": "string"}, "title": {"type": "string"},
            "description": {"type": "string"}, "labels": STORED_LABELS, "container_image": NULLABLE_IMAGE,
            "parameters": {"type": "object"},
            "status": {"type": "string", "enum": list(WorkflowStatus)},
            "content_hash": {"type": "string", "pattern": "^[a-f0-9]{64}$"},
            "created_at": TIMESTAMP, "created_by": {"type": "string"}, "enabled": {"type": "boolean"},
            "owner": {**ref("Owner"), "description": "The workflow's owner: the origin (cluster, namespace) of the "
                      "RemediationWorkflow that first registered it, or the API. Only it adds versions; an admin key "
                      "without limits moves it."},
            "is_latest": {"type": "boolean"}, "signature": SIGNATURE,
            "source": {**SOURCE, "description": "The RemediationWorkflow this version was registered from "
                                                "(null when created over REST)."},
            "steps": {"type": "array", "items": ref("Step"),
                      "description": "A composite workflow's steps (container_image is then null)."},
            "finally": {"type": "array", "items": ref("FinallyStep"),
                        "description": "A composite workflow's finally steps."},
        },
    },
    "StatusChangeRecord": {
        "type": "object",
        "properties": {"field": {"type": "string"}, "from": {"type": ["string", "null"]}, "to": {"type": "string"},
                       "reason": {"type": "string"}, "changed_by": {"type": "string"}, "changed_at": TIMESTAMP},
    },
    "VersionHistory": {
        "type": "object",
        "properties": {
            "workflow_id": {"type": "string"},
            "items": {"type": "array", "items": {"allOf": [ref("Version"), {"type": "object", "properties": {
                "status_changes": {"type": "array", "items": ref("StatusChangeRecord")}}}]}},
            "workflow_changes": {"type": "array", "items": ref("StatusChangeRecord")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Workflow": {"allOf": [ref("Version"), {"type": "object", "properties": {
        "source": {**SOURCE, "properties": {**SOURCE_PROPERTIES, "registered_at": TIMESTAMP},
                   "description": "The RemediationWorkflow the workflow's latest registration came from (null when "
                                  "created over REST); reconciliation compares it with the cluster."},
        "approval_required": {"type": "boolean", "description": "Executions wait for a person's approval."},
        "guards": {"type": "object", "description": "The guard settings in force (README, \"Guardrails\"): the "
                   "workflow's own, or the configured default (DEFAULT_<NAME>).",
                   "properties": {name: {"type": "integer", "minimum": low, "maximum": high}
                                  for name, (low, high) in GUARD_SETTING_BOUNDS.items()}},
        "guards_from_configuration": {**STRING_LIST, "description": "The settings of guards this workflow leaves to "
                                                                    "the configured defaults."},
        "circuit": ref("Circuit"),
        "latest_version": {"type": ["string", "null"]},
        "versions": {"type": "array", "items": {"type": "object", "properties": {
            "version": {"type": "string"}, "status": {"type": "string"}, "created_at": TIMESTAMP}}},
    }}]},
    "Circuit": {
        "type": "object", "required": ["state"],
        "description": "The workflow's circuit breaker. It opens by itself when half or more of its last 10 finished "
                       "executions failed (at least 5, since it last closed): then no execution of it starts until "
                       "an operator closes it (PATCH with circuit closed and a reason).",
        "properties": {"state": {"type": "string", "enum": list(CIRCUIT_STATES)},
                       "changed_at": NULLABLE_TIMESTAMP,
                       "changed_by": {"type": ["string", "null"], "description": "system when it opened by itself."},
                       "reason": {"type": ["string", "null"]}},
    },
    "FailureStreakCleared": {
        "type": "object", "required": ["workflow_id", "target", "failures", "cleared"],
        "properties": {"workflow_id": {"type": "string"}, "target": ref("Target"),
                       "failures": {"type": "integer", "description": "The streak's length before the clear."},
                       "cleared": {"type": "boolean", "description": "false: no streak to clear, nothing written."},
                       "execution_id": {"type": ["string", "null"],
                                        "description": "The newest failed execution, marked as the streak's end."}},
    },
    "DryRun": {
        "type": "object", "required": ["dry_run", "outcome", "blocked_by", "pipeline_run"],
        "description": "What POST /api/v1/executions would do now; nothing was written and no lock taken.",
        "properties": {
            "dry_run": {"const": True},
            "outcome": {"type": "string", "enum": list(DRY_RUN_OUTCOMES)},
            "workflow_id": {"type": "string"},
            "version": {"type": ["string", "null"], "description": "The version it would run (null: none active)."},
            "blocked_by": {"type": "array", "items": ref("Problem"),
                           "description": "Every refusal, as the 409 problem a start would answer, in the order a "
                                          "start meets them (the first is what it would answer)."},
            "guards": {"type": "object", "description": "Each guard's verdict.",
                       "properties": {name: {"type": "string", "enum": list(GuardVerdict)} for name in GUARD_NAMES}},
            "approval_required_by": {"anyOf": [APPROVAL_REQUIRED_BY, {"type": "null"}],
                                     "description": "What would make it wait for approval (null: nothing)."},
            "pipeline_run": {"anyOf": [ref("PipelineRun"), {"type": "null"}],
                             "description": "The PipelineRun it would run (named after no real execution: never "
                                            "create it); null when the version cannot be built."},
        },
    },
    "RollbackResult": {"type": "object", "properties": {
        "workflow_id": {"type": "string"}, "latest_version": {"type": "string"},
        "deprecated_versions": STRING_LIST}},
    "ReconcileResult": {"type": "object", "required": ["disabled", "stale"], "properties": {
        "disabled": {**STRING_LIST, "description": "Workflow ids disabled now: their resource is gone."},
        "stale": {**STRING_LIST, "description": "Uids of live resources whose generation the catalog has not "
                                               "registered: forward them again."}}},
    "Health": {"type": "object", "properties": {"status": {"type": "string"}, "database": {"type": "string"}}},
    "Registration": {
        "type": "object",
        "required": ["registration_id", "status", "workflow_id", "version", "created_at"],
        "properties": {
            "registration_id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": list(RegistrationStatus)},
            "event": {"type": "string", "enum": list(ResourceEventType)},
            "workflow_id": {"type": "string"}, "version": {"type": "string"},
            "image": {"type": ["string", "null"], "description": "The image as the resource names it (null when it "
                      "names none: a composite workflow's resource)."},
            "cluster": {"type": "string", "description": "The cluster of the resource: the delivering key's."},
            "image_digest": {"type": ["string", "null"], "description": "What the image reference resolved to."},
            "container_image": {"type": ["string", "null"], "description": "The digest-pinned reference stored."},
            "attempts": {"type": "integer"},
            "signature": {"type": ["object", "null"], "description": "Signature check under SIGNATURE_POLICY_FILE; "
                          "null when no check applied.", "properties": {
                "verified": {"type": "boolean"}, "key_id": {"type": ["string", "null"]},
                "mode": {"type": "string", "enum": [SignatureMode.WARN, SignatureMode.ENFORCE]},
                "reason": {"type": ["string", "null"]},
                "detail": {"type": ["string", "null"]}}},
            "error": {**_REGISTRATION_ERROR,
                      "description": "Why it failed (or, while it waits for a retry, the problem being retried)."},
            "created_at": TIMESTAMP, "finished_at": NULLABLE_TIMESTAMP,
        },
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
            "redacted": {**STRING_LIST, "description": "Names of the writeOnly parameters shown redacted."},
        },
    },
    "Execution": {
        "type": "object",
        "properties": {
            "execution_id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": list(EXECUTION_STATUSES)},
            "workflow_id": {"type": "string"}, "version": {"type": "string"}, "container_image": NULLABLE_IMAGE,
            "pipeline_run_name": {"type": "string"},
            "parameters": {"type": "object", "description": f"writeOnly values are stored and shown as {REDACTED!r}."},
            "redacted_parameters": STRING_LIST,
            "incident": STORED_INCIDENT,
            "message": {"type": ["string", "null"], "description": "Latest status message."},
            "created_by": {"type": "string"}, "created_at": TIMESTAMP,
            "started_at": NULLABLE_TIMESTAMP, "finished_at": NULLABLE_TIMESTAMP,
            "duration_seconds": {"type": ["number", "null"], "description": "finished_at - started_at."},
            "target": {"anyOf": [STORED_TARGET, {"type": "null"}],
                       "description": "The resource it acts on (null for executions recorded before targets)."},
            "approval": {"type": ["object", "null"], "description": "null when the workflow did not require "
                         "approval; else the deadline (to approve, then to start) and the decision.",
                         "properties": {"expires_at": NULLABLE_TIMESTAMP, "decided_by": {"type": ["string", "null"]},
                                        "decided_at": NULLABLE_TIMESTAMP, "reason": {"type": ["string", "null"]},
                                        "required_by": APPROVAL_REQUIRED_BY}},
            "steps": {"type": ["array", "null"], "description": "A composite's execution: what each step resolved to "
                      "when the execution was created; null for a single-image workflow.", "items": {
                "type": "object", "properties": {
                    "step": {"type": "string"}, "finally": {"type": "boolean"}, "workflow_id": {"type": "string"},
                    "version": {"type": "string"},
                    "container_image": {"type": "string", "description": "Digest-pinned."}}}},
            "reason": {"type": ["string", "null"], "description": "Why it ended so: the PipelineRun's reason as its "
                       "runner reported it (e.g. PipelineRunTimeout), or runner-lost (its leases lapsed "
                       "MAX_LEASE_LAPSES times with no report)."},
            "pipeline_run_ref": {"type": ["object", "null"], "description": "The PipelineRun that runs it, as its "
                                 "runner reported it.", "properties": {
                "namespace": {"type": "string"}, "name": {"type": "string"}, "uid": {"type": ["string", "null"]}}},
            "lease": {"type": ["object", "null"], "description": "null until a runner claims it; then the runner "
                      "holding its lease (null after a lapse) and until when, and how many leases lapsed.",
                      "properties": {"runner_id": {"type": ["string", "null"]}, "claimed_at": NULLABLE_TIMESTAMP,
                                     "expires_at": TIMESTAMP, "lapses": {"type": "integer"}}},
            "effectiveness": EFFECTIVENESS,
        },
    },
    "ExecutionDetail": {"allOf": [ref("Execution"), {"type": "object", "properties": {"events": {
        "type": "array", "items": {"type": "object", "properties": {
            "from": {"type": ["string", "null"]}, "to": {"type": "string"}, "message": {"type": ["string", "null"]},
            "changed_by": {"type": "string"}, "changed_at": TIMESTAMP}}}}}]},
    "ExecutionStarted": {"allOf": [ref("Execution"), {"type": "object", "required": ["pipeline_run"], "properties": {
        "pipeline_run": {"anyOf": [ref("PipelineRun"), {"type": "null"}],
                         "description": "What the runner of the target's cluster creates; null while the execution "
                                        "awaits approval: approve it with another key, then POST "
                                        "/api/v1/executions/{execution_id}/start."}}}]},
    "ExecutionClaims": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
        "type": "object", "required": ["execution_id", "status", "pipeline_run", "secret", "lease_expires_at"],
        "properties": {
            "execution_id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": list(RUNNABLE),
                       "description": "pending: create its objects. running: another runner's lease on it lapsed after "
                                      "it reported the run started; follow its PipelineRun, never create it again "
                                      "(report it failed when the PipelineRun is gone)."},
            "pipeline_run": {**ref("PipelineRun"), "description": "Create it in the runner's namespace (it names "
                                                                  "none); its name derives from the execution id."},
            "secret": {"type": ["object", "null"], "description": "A v1 Secret (Opaque, stringData: each writeOnly "
                       "parameter by name) to create before the PipelineRun, whose step reads it by secretKeyRef; "
                       "only this answer carries those values, until the execution is reported running. null when "
                       "it has none (or they were delivered)."},
            "lease_expires_at": {**TIMESTAMP, "description": "Report (or claim again) before then."}}}}}},
    "PipelineRun": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "description": "A Tekton tekton.dev/v1 PipelineRun, created by the runner of the target's cluster in "
                       "its namespace. Each parameter is a string in spec.params and reaches the step, which runs "
                       "the digest-pinned image, as an environment variable of the same name; a writeOnly one is "
                       "never in it: the step reads it from the execution's Secret (valueFrom.secretKeyRef). Labels "
                       "kubernaut.ai/workflow-id, kubernaut.ai/workflow-version, kubernaut.ai/execution-id, "
                       "kubernaut.ai/target-kind, kubernaut.ai/target-name, kubernaut.ai/target-namespace (the "
                       "exact strings, and the execution id, also as annotations of the same names).",
        "properties": {"apiVersion": {"const": "tekton.dev/v1"}, "kind": {"const": "PipelineRun"},
                       "metadata": {"type": "object"}, "spec": {"type": "object"}},
    },
    "SearchResults": {
        "type": "object",
        "required": ["results", "total", "confident"],
        "properties": {
            "total": {"type": "integer", "description": "Number of results returned."},
            "confident": {
                "type": "boolean",
                "description": "With a query: true when the top result is judged to really fit the incident "
                               "(a decision calibrated on real alert text, not a cut on score). false when "
                               "nothing fits or there are no results: do not execute any result; hand the "
                               "incident to a human or post a recommendation for a new workflow. Without a "
                               "query: true when at least one workflow matches the labels.",
            },
            "results": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "rank": {"type": "integer"}, "workflow_id": {"type": "string"}, "version": {"type": "string"},
                    "title": {"type": "string"}, "description": {"type": "string"}, "labels": {"type": "object"},
                    "container_image": NULLABLE_IMAGE,
                    "signature": SIGNATURE,
                    "circuit": {"type": "string", "enum": list(CIRCUIT_STATES),
                                "description": "The workflow's circuit breaker: open means an execution of it is "
                                               "refused (circuit-open) until an operator closes it. Ranking does not "
                                               "read it."},
                    "track_record": {
                        "type": "object", "required": ["signal_type", "executions", "success_rate",
                                                       "effectiveness_rate"],
                        "description": "What the workflow's executions came to, for the agent and the operator to "
                                       "weigh; ranking does not read it (relevance decides). For the searched "
                                       "signal_type when the search names one, else for the workflow overall.",
                        "properties": {"signal_type": {"type": ["string", "null"], "description": "The signal it "
                                                       "is for; null: every execution of the workflow."},
                                       **OUTCOMES}},
                    "score": {"type": "number", "minimum": 0, "maximum": 1,
                              "description": "semantic + text + label_boost; order: score desc, workflow_id asc."},
                    "explanation": {
                        "type": "object",
                        "properties": {
                            "semantic": {"type": "number", "description": "0.3 x cosine similarity"},
                            "text": {"type": "number", "description": "0.6 x BM25F full-text match / best possible"},
                            "label_boost": {"type": "number",
                                            "description": "0.1 (1 without query) x share of request labels "
                                                           "declared with that value (1) or as * (0.5)"},
                            "matched_labels": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            }},
        },
    },
    "WorkflowStats": {
        "type": "object", "required": ["workflow_id", "versions", "signal_types"],
        "properties": {"workflow_id": {"type": "string"}, "versions": {"type": "array", "items": {
            "type": "object", "properties": {
                "version": {"type": "string"}, "status": {"type": "string"},
                **{status: {"type": "integer"} for status in COUNTED_STATES}, **OUTCOMES, **DURATIONS,
                "composite_runs": {"type": "integer",
                                   "description": "Executions of composite workflows that ran this version as a "
                                                  "step."},
            }}},
            "signal_types": {"type": "array", "description": "Per incident signal_type (case-insensitive; spelled as "
                             "its newest execution spells it), every version.", "items": {
                "type": "object", "properties": {"signal_type": {"type": "string"}, **OUTCOMES, **DURATIONS}}}},
    },
    "ApiKey": {
        "type": "object", "required": ["key_id", "name", "scopes", "namespaces", "cluster", "created_at", "revoked_at"],
        "properties": {"key_id": {"type": "string"}, "name": {"type": "string"}, "scopes": STRING_LIST,
                       "namespaces": {"type": ["array", "null"], "items": {"type": "string"},
                                      "description": "The namespaces the key may register and reconcile, and whose "
                                                     "executions it may act on; null: every namespace."},
                       "cluster": {"type": ["string", "null"],
                                   "description": "The cluster the key is bound to; null: bound to none (it acts as "
                                                  f"cluster {DEFAULT_CLUSTER!r})."},
                       "created_at": TIMESTAMP, "revoked_at": {**NULLABLE_TIMESTAMP,
                                                               "description": "null while the key is active."}},
    },
    "ApiKeyCreated": {"allOf": [ref("ApiKey"), {"type": "object", "required": ["api_key"], "properties": {
        "api_key": {"type": "string", "description": "The bearer key. Shown in this response only: keep it now."}}}]},
    "Recommendation": {
        "type": "object",
        "required": ["recommendation_id", "status", "occurrences"],
        "properties": {
            "recommendation_id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": list(RecommendationStatus)},
            "signal_type": {"type": "string"}, "component": {"type": ["string", "null"]},
            "summary": {"type": "string"}, "rationale": {"type": ["string", "null"]},
            "proposed_steps": STRING_LIST,
            "confidence": {"type": "number", "description": "The highest confidence any of its posts gave."},
            "related_workflow_id": {"type": ["string", "null"]},
            "occurrences": {"type": "integer", "description": "Distinct incidents that posted it."},
            "workflow_id": {"type": ["string", "null"], "description": "The workflow linked when accepted."},
            "created_by": {"type": "string"}, "created_at": TIMESTAMP, "last_seen_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
    "RecommendationDetail": {"allOf": [ref("Recommendation"), {"type": "object", "properties": {
        "incidents": {"type": "array", "description": "The newest incidents that posted it (at most 50), newest "
                      "first.", "items": {"type": "object", "properties": {
                          "incident": {"type": "object"}, "summary": {"type": "string"},
                          "confidence": {"type": "number"}, "recorded_by": {"type": "string"},
                          "recorded_at": TIMESTAMP}}},
        "status_changes": {"type": "array", "items": {"type": "object", "properties": {
            "from": {"type": ["string", "null"]}, "to": {"type": "string"}, "reason": {"type": ["string", "null"]},
            "workflow_id": {"type": ["string", "null"]}, "changed_by": {"type": "string"},
            "changed_at": TIMESTAMP}}},
    }}]},
    "AlertIntake": {
        "type": "object", "required": ["received", "recorded", "unchanged"],
        "properties": {
            "received": {"type": "integer", "description": "Alerts in the notification."},
            "recorded": {"type": "integer", "description": "Alerts whose record changed: a new episode (fired, or "
                                                           "fired again), a resolution."},
            "unchanged": {"type": "integer", "description": "Alerts already recorded so, or reported late (older "
                                                            "than what is recorded)."},
        },
    },
    "McpResponse": {
        "type": "object", "required": ["jsonrpc", "id"],
        "description": "A JSON-RPC 2.0 response: result, or error {code, message, data}.",
        "properties": {
            "jsonrpc": {"const": "2.0"}, "id": {"type": ["string", "integer", "null"]},
            "result": {"type": "object"},
            "error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "integer"}, "message": {"type": "string"}, "data": {}}},
        },
    },
    **{f"{item}Page": page_schema(item) for item in LISTED},
}
