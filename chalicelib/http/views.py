"""Response shapes, in one place: database rows and service results -> API JSON, and the JSON Schema of
each response for the OpenAPI document (the output models at the edge)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain.effectiveness import VERDICTS, TrackRecord
from chalicelib.domain.executions import EXECUTION_STATUSES, REDACTED, SUCCEEDED, Target, duration_seconds
from chalicelib.domain.guards import CIRCUIT_STATES, CLOSED, DRY_RUN_OUTCOMES, GUARD_NAMES, SETTING_NAMES, Circuit
from chalicelib.domain.limits import DEFAULT_CLUSTER, GUARD_SETTING_BOUNDS, INCIDENT_LABELS
from chalicelib.domain.ownership import Owner
from chalicelib.domain.rows import Row
from chalicelib.domain.search import Hit
from chalicelib.domain.timestamps import rfc3339
from chalicelib.domain.vocabularies import (
    ExecutionStatus,
    GuardVerdict,
    RecommendationStatus,
    RegistrationReason,
    RegistrationStatus,
    ResourceEventType,
    SignatureMode,
    WorkflowStatus,
)
from chalicelib.http.problems import error_body

if TYPE_CHECKING:
    from chalicelib.services.alerts import Intake
    from chalicelib.services.executions import ClaimedExecution, DryRun



# --- serialisation ------------------------------------------------------------------------------
def dumps(body: Any) -> str:
    return json.dumps(body, default=_json_default, separators=(",", ":"))


def body_text(body: Any) -> str:
    """A JSON response body as sent: compact JSON and a final newline (a terminal's prompt starts on its own line)."""
    return dumps(body) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _time(value: datetime | None) -> str | None:
    return rfc3339(value) if value is not None else None


# --- workflows ----------------------------------------------------------------------------------
def version_view(row: Row) -> dict[str, Any]:
    return {
        "workflow_id": row["workflow_id"],
        "version": row["version"],
        "title": row["title"],
        "description": row["description"],
        "labels": row["labels"],
        "container_image": row["container_image"],
        "parameters": row["parameters"],
        "status": row["status"],
        "content_hash": row["content_hash"].strip(),
        "created_at": rfc3339(row["created_at"]),
        "created_by": row["created_by"],
        "enabled": row["enabled"],
        "owner": Owner.of_row(row).to_dict(),  # the workflow's (README, "Ownership, clusters and key limits")
        "is_latest": bool(row["is_latest"]),
        "signature": row.get("signature"),  # {"verified", "key_id"}; None when not checked
        "source": row.get("source"),  # the resource this version was registered from; None over REST
        # A composite workflow (container_image null): its steps as written (docs/composite-workflows.md).
        **({"steps": row["composition"]["steps"], "finally": row["composition"]["finally"]}
           if row.get("composition") else {}),
    }


def change_view(row: Row) -> dict[str, Any]:
    return {
        "field": row["field"],
        "from": row["from_value"],
        "to": row["to_value"],
        "reason": row["reason"],
        "changed_by": row["changed_by"],
        "changed_at": rfc3339(row["changed_at"]),
    }


def history_view(workflow_id: str, versions: Mapping[str, Any], changes: Sequence[Row]) -> dict[str, Any]:
    """A page of versions (the list body of http/paging.py) with each version's status changes, and the workflow's."""
    by_version: dict[str | None, list[dict[str, Any]]] = {}
    for change in changes:
        by_version.setdefault(change["version"], []).append(change_view(change))
    items = [{**item, "status_changes": by_version.get(item["version"], [])} for item in versions["items"]]
    return {
        "workflow_id": workflow_id,
        "items": items,
        "workflow_changes": by_version.get(None, []),
        "next_cursor": versions["next_cursor"],
    }


def workflow_view(result: Row) -> dict[str, Any]:
    workflow, latest = result["workflow"], result["latest"]
    body: dict[str, Any] = version_view(latest) if latest else {"workflow_id": workflow["workflow_id"]}
    body["enabled"] = workflow["enabled"]
    body["owner"] = Owner.of_row(workflow).to_dict()
    body["source"] = source_view(workflow)
    body["approval_required"] = workflow["approval_required"]
    body["guards"] = result["guards"].to_dict()  # in force: the workflow's own or the configured default
    body["guards_from_configuration"] = [name for name in SETTING_NAMES if workflow[name] is None]
    body["circuit"] = circuit_view(result["circuit"])
    body["latest_version"] = latest["version"] if latest else None
    body["versions"] = [
        {"version": v["version"], "status": v["status"], "created_at": rfc3339(v["created_at"])}
        for v in result["versions"]
    ]
    return body


def circuit_view(circuit: Circuit) -> dict[str, Any]:
    return {"state": circuit.state, "changed_at": _time(circuit.changed_at), "changed_by": circuit.changed_by,
            "reason": circuit.reason}


def failure_streak_clear_view(result: Row) -> dict[str, Any]:
    return {"workflow_id": result["workflow_id"], "target": _target_dict(result["target"]),
            "failures": result["failures"], "cleared": result["cleared"], "execution_id": result["execution_id"]}


# --- search -------------------------------------------------------------------------------------
def search_view(hits: Sequence[Hit], confident: bool) -> dict[str, Any]:
    """``{"results", "total", "confident"}`` (README, "Search"); each score explained by its parts."""
    results = []
    for hit in hits:
        version = hit.version
        results.append({
            "rank": hit.rank, "workflow_id": version["workflow_id"], "version": version["version"],
            "title": version["title"], "description": version["description"], "labels": version["labels"],
            "container_image": version["container_image"], "signature": version["signature"],
            "circuit": version["circuit"] or CLOSED,
            "track_record": {"signal_type": hit.track_record_signal, **hit.track_record.to_dict()},
            "score": hit.score, "explanation": hit.explanation.to_dict(),
        })
    return {"results": results, "total": len(results), "confident": confident}


# --- registrations -------------------------------------------------------------------------------
def registration_view(row: Row) -> dict[str, Any]:
    view = {
        "registration_id": str(row["registration_id"]),
        "status": row["status"],
        "event": row["event"],
        "workflow_id": row["workflow_id"],
        "version": row["version"],
        "image": row["image"],
        "cluster": row["cluster"],
        "image_digest": row["image_digest"],
        "container_image": row["container_image"],
        "signature": row.get("signature"),  # {"verified", "key_id", "mode", "reason", "detail"}; None: not checked
        "attempts": row["attempts"],
        "created_at": rfc3339(row["created_at"]),
        "finished_at": _time(row["finished_at"]),
    }
    if row["error_type"]:
        view["error"] = {"type": row["error_type"], "title": row["error_title"], "detail": row["error_detail"]}
        if row["error_errors"]:
            view["error"]["errors"] = row["error_errors"]
    return view


def reconcile_view(disabled: Sequence[str], stale: Sequence[str]) -> dict[str, Any]:
    return {"disabled": list(disabled), "stale": list(stale)}


def source_view(row: Row) -> dict[str, Any] | None:
    """The RemediationWorkflow a workflow comes from (its latest registration); None when created over REST."""
    if row.get("source_uid") is None:
        return None
    return {"uid": row["source_uid"], "cluster": row["source_cluster"], "namespace": row["source_namespace"],
            "name": row["source_name"], "generation": row["source_generation"],
            "registered_at": rfc3339(row["source_registered_at"])}


# --- executions ---------------------------------------------------------------------------------
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
        "target": _target(row),
        "approval": _approval(row),
        # A composite's execution: what each step resolved to (None for a single-image workflow).
        "steps": row.get("steps"),
        "reason": row["reason"],
        "pipeline_run_ref": row["pipeline_run_ref"],
        "lease": _lease(row),
        "effectiveness": _effectiveness(row),
    }


def _effectiveness(row: Row) -> dict[str, Any] | None:
    """A success's verdict (README, "Effectiveness"): null fields until its window has ended; None for any other
    status (only a success is judged)."""
    if row["status"] != SUCCEEDED:
        return None
    return {"verdict": row["effectiveness"], "judged_at": _time(row["effectiveness_judged_at"]),
            "window_ends_at": _time(row["effectiveness_window_ends_at"]), "evidence": row["effectiveness_evidence"]}


def _lease(row: Row) -> dict[str, Any] | None:
    """Who runs it: the runner holding the lease and until when, and how many leases lapsed (None: never claimed)."""
    if row["lease_expires_at"] is None:
        return None
    return {"runner_id": row["claimed_by"], "claimed_at": _time(row["claimed_at"]),
            "expires_at": _time(row["lease_expires_at"]), "lapses": row["lease_lapses"]}


def claim_view(claimed: Sequence[ClaimedExecution]) -> dict[str, Any]:
    """A claim's answer: per execution the PipelineRun to create, the Secret (writeOnly values; null when none are
    held) and the end of the lease."""
    return {"items": [{"execution_id": item.execution_id, "pipeline_run": item.pipeline_run, "secret": item.secret,
                       "lease_expires_at": rfc3339(item.lease_expires_at)} for item in claimed]}


def _target(row: Row) -> dict[str, str] | None:
    """The resource the execution acts on (None for executions recorded before targets were required)."""
    if row["target_kind"] is None:
        return None
    target = {"kind": row["target_kind"], "name": row["target_name"]}
    if row["target_namespace"] is not None:
        target["namespace"] = row["target_namespace"]
    target["cluster"] = row["target_cluster"]
    return target


def _target_dict(target: Target) -> dict[str, str]:
    """A domain Target as requests write it."""
    return {key: value for key, value in asdict(target).items() if value is not None}


def _approval(row: Row) -> dict[str, Any] | None:
    if not row["approval_required"]:
        return None
    # Executions recorded before composites' steps could require approval: only their workflow did.
    required_by = row["approval_required_by"] or {"workflow": True, "steps": []}
    return {"expires_at": _time(row["approval_expires_at"]), "decided_by": row["approval_decided_by"],
            "decided_at": _time(row["approval_decided_at"]), "reason": row["approval_reason"],
            "required_by": required_by}


def dry_run_view(result: DryRun) -> dict[str, Any]:
    """What a start would do (README, "Guardrails"): blocked_by holds the problem documents a start would answer."""
    return {"dry_run": True, "outcome": result.outcome, "workflow_id": result.workflow_id,
            "version": result.version, "blocked_by": [error_body(problem) for problem in result.blocked_by],
            "guards": result.guards, "approval_required_by": result.approval_required_by,
            "pipeline_run": result.pipeline_run}


def event_view(row: Row) -> dict[str, Any]:
    return {"from": row["from_status"], "to": row["to_status"], "message": row["message"],
            "changed_by": row["changed_by"], "changed_at": _time(row["changed_at"])}


def execution_detail_view(row: Row, events: Sequence[Row]) -> dict[str, Any]:
    return {**execution_view(row), "events": [event_view(event) for event in events]}


# The count in each state, besides the outcomes (succeeded and failed are among them).
STATE_KEYS = tuple(status.value for status in ExecutionStatus
                   if status not in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED))


def stats_view(workflow_id: str, versions: Sequence[Row], signals: Sequence[Row]) -> dict[str, Any]:
    """Per version and per signal_type, what the executions came to; the rates: domain/effectiveness.py."""
    return {"workflow_id": workflow_id,
            "versions": [{"version": row["version"], "status": row["status"], **{s: row[s] for s in STATE_KEYS},
                          **_outcomes(row), "composite_runs": row["composite_runs"]} for row in versions],
            "signal_types": [{"signal_type": row["signal_type"], **_outcomes(row)} for row in signals]}


def _outcomes(row: Row) -> dict[str, Any]:
    return {**TrackRecord.of_row(row).to_dict(), "mean_duration_seconds": row["mean_duration_seconds"],
            "median_duration_seconds": row["median_duration_seconds"]}


# --- API keys -----------------------------------------------------------------------------------
def api_key_view(row: Row) -> dict[str, Any]:
    """A key as listed: never its token (only a hash of it is stored)."""
    return {"key_id": row["key_id"], "name": row["name"], "scopes": list(row["scopes"]),
            "namespaces": list(row["namespaces"]) if row["namespaces"] is not None else None,
            "cluster": row["cluster"], "created_at": rfc3339(row["created_at"]), "revoked_at": _time(row["revoked_at"])}


# --- recommendations ----------------------------------------------------------------------------
def recommendation_view(row: Row) -> dict[str, Any]:
    return {
        "recommendation_id": row["recommendation_id"],
        "status": row["status"],
        "signal_type": row["signal_type"],
        "component": row["component"],
        "summary": row["summary"],
        "rationale": row["rationale"],
        "proposed_steps": row["proposed_steps"],
        "confidence": row["confidence"],
        "related_workflow_id": row["related_workflow_id"],
        "occurrences": row["occurrences"],
        "workflow_id": row["workflow_id"],
        "created_by": row["created_by"],
        "created_at": rfc3339(row["created_at"]),
        "last_seen_at": rfc3339(row["last_seen_at"]),
        "updated_at": rfc3339(row["updated_at"]),
    }


def recommendation_detail_view(row: Row, incidents: Sequence[Row], events: Sequence[Row]) -> dict[str, Any]:
    return {
        **recommendation_view(row),
        "incidents": [{"incident": i["incident"], "summary": i["summary"], "confidence": i["confidence"],
                       "recorded_by": i["recorded_by"], "recorded_at": rfc3339(i["recorded_at"])} for i in incidents],
        "status_changes": [{"from": e["from_status"], "to": e["to_status"], "reason": e["reason"],
                            "workflow_id": e["workflow_id"], "changed_by": e["changed_by"],
                            "changed_at": rfc3339(e["changed_at"])} for e in events],
    }


# --- alerts -------------------------------------------------------------------------------------
def alert_intake_view(intake: Intake) -> dict[str, int]:
    return {"received": intake.received, "recorded": intake.recorded, "unchanged": intake.unchanged}


# --- response schemas (OpenAPI components) --------------------------------------------------------
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
        "type": "object", "required": ["execution_id", "pipeline_run", "secret", "lease_expires_at"], "properties": {
            "execution_id": {"type": "string", "format": "uuid"},
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
                **{status: {"type": "integer"} for status in STATE_KEYS}, **OUTCOMES, **DURATIONS,
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
