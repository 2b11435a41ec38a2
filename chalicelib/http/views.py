"""Response bodies, in one place: database rows and service results -> API JSON (the output models at the edge).

Each shape is documented by its schema in chalicelib/http/schemas.py; tests/support/responses.py holds every 2xx
body the tests receive to it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain.effectiveness import TrackRecord
from chalicelib.domain.executions import COUNTED_STATES, SUCCEEDED, Target, duration_seconds
from chalicelib.domain.guards import CLOSED, SETTING_NAMES, Circuit
from chalicelib.domain.ownership import Owner
from chalicelib.domain.rows import Row
from chalicelib.domain.search import Hit
from chalicelib.domain.timestamps import rfc3339
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
    """A claim's answer: per execution its status, the PipelineRun to create (or follow, when running), the Secret
    (writeOnly values; null when none are held) and the end of the lease."""
    return {"items": [{"execution_id": item.execution_id, "status": item.status, "pipeline_run": item.pipeline_run,
                       "secret": item.secret, "lease_expires_at": rfc3339(item.lease_expires_at)}
                      for item in claimed]}


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


def stats_view(workflow_id: str, versions: Sequence[Row], signals: Sequence[Row]) -> dict[str, Any]:
    """Per version and per signal_type, what the executions came to; the rates: domain/effectiveness.py."""
    return {"workflow_id": workflow_id,
            "versions": [{"version": row["version"], "status": row["status"], **{s: row[s] for s in COUNTED_STATES},
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
