"""Routes of the workflow catalog (README, "The API"): parse -> WorkflowService -> respond."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain import contracts
from chalicelib.domain.guards import parse_clear
from chalicelib.domain.workflows import Rollback, StatusChange, WorkflowChange, parse_new_version
from chalicelib.http.endpoint import Call, endpoint, json_response
from chalicelib.http.paging import page_body
from chalicelib.http.views import failure_streak_clear_view, history_view, version_view, workflow_view

workflows = Blueprint(__name__)
BASE = "/api/v1/playbooks"
HISTORY = {200: ("Version history, newest SemVer first, with status changes.", "VersionHistory")}


@endpoint(workflows, BASE, methods=("POST",), scope="catalog:write", body=contracts.NEW_VERSION,
          summary="Create a workflow version (idempotent on identical content)",
          description="409 content-conflict when the version exists with other content; 409 workflow-owned-elsewhere "
                      "when the workflow is owned by RemediationWorkflow resources (publish through them). A new "
                      "workflow is owned by the API. Keys with namespace or cluster limits: 403.",
          responses={201: ("Created", "Version"), 200: ("Identical content already stored", "Version")}, errors=(409,))
def create_version(call: Call) -> object:
    result = services().workflows.create_version(parse_new_version(call.json()), call.actor, call.principal)
    return json_response(version_view(result.version), status=201 if result.created else 200)


@endpoint(workflows, BASE, query=contracts.LIST_WORKFLOWS_QUERY,
          summary="Latest version of each workflow (with the given status, default active)",
          responses={200: ("A page of versions", "VersionPage")})
def list_workflows(call: Call) -> object:
    q = call.query
    labels = contracts.label_filters(q)
    result = services().workflows.list_latest(q["status"], q.get("enabled"), q.get("signal_type"), labels, q["limit"],
                                              q.get("cursor"))
    return page_body(result, version_view)


@endpoint(workflows, BASE + "/versions", query=contracts.VERSIONS_QUERY,
          summary="Version history of a workflow", responses=HISTORY, errors=(404,))
def versions_by_query(call: Call) -> object:
    return _history(call, call.query["workflow_id"])


@endpoint(workflows, BASE + "/{workflow_id}/versions", query=contracts.PAGE_QUERY,
          summary="Version history of a workflow", responses=HISTORY, errors=(404,))
def versions(call: Call, workflow_id: str) -> object:
    return _history(call, workflow_id)


def _history(call: Call, workflow_id: str) -> object:
    versions, changes = services().workflows.history(workflow_id, call.query["limit"], call.query.get("cursor"))
    return history_view(workflow_id, page_body(versions, version_view), changes)


@endpoint(workflows, BASE + "/{workflow_id}",
          summary="The latest active version, the enabled flag and a summary of all versions",
          responses={200: ("The workflow", "Workflow")}, errors=(404,))
def get_workflow(call: Call, workflow_id: str) -> object:
    return workflow_view(services().workflows.get_workflow(workflow_id))


@endpoint(workflows, BASE + "/{workflow_id}", methods=("PATCH",), scope="catalog:write",
          body=contracts.WORKFLOW_CHANGE,
          summary="Enable or disable a workflow, require approval of its executions, move its owner, set its guards "
                  "or close its circuit breaker (reason required)",
          description="Any other field is 409 immutable-field. Each change is kept in the workflow's history. Moving "
                      "the owner takes an admin key without namespace or cluster limits (403 otherwise); a key with "
                      "limits changes only workflows owned by resources within them (403 otherwise). guards: any of "
                      "cooldown_seconds, max_consecutive_failures, max_executions_per_hour, max_concurrent (null: the "
                      "configured default); out of bounds or unknown: 400. circuit closed: executions may run again, "
                      "and those finished before count no more for the breaker.",
          responses={200: ("The workflow", "Workflow")}, errors=(404, 409))
def patch_workflow(call: Call, workflow_id: str) -> object:
    change = WorkflowChange.from_body(call.json())
    return workflow_view(services().workflows.change_workflow(workflow_id, change, call.actor, call.principal))


@endpoint(workflows, BASE + "/{workflow_id}/guards/clear", methods=("POST",), scope="catalog:write",
          body=contracts.FAILURE_STREAK_CLEAR,
          summary="Clear the workflow's failure streak on a target (the consecutive-failures guard; reason required)",
          description="Kept in the workflow's history. No streak (the newest finished execution there did not fail): "
                      "200 with cleared false, nothing written. A key with limits clears only on workflows owned "
                      "by resources within them and on targets in its namespaces (403 otherwise).",
          responses={200: ("The streak cleared (or none to clear)", "FailureStreakCleared")}, errors=(404,))
def clear_failure_streak(call: Call, workflow_id: str) -> object:
    target, reason = parse_clear(call.json())
    return failure_streak_clear_view(services().workflows.clear_failure_streak(workflow_id, target, reason, call.actor,
                                                                             call.principal))


@endpoint(workflows, BASE + "/{workflow_id}/versions/{version}",
          summary="One version, any status", responses={200: ("The version", "Version")}, errors=(404,))
def get_version(call: Call, workflow_id: str, version: str) -> object:
    return version_view(services().workflows.get_version(workflow_id, version))


@endpoint(workflows, BASE + "/{workflow_id}/versions/{version}", methods=("PATCH",), scope="catalog:write",
          body=contracts.STATUS_CHANGE, summary="Lifecycle transition: draft -> active -> deprecated (terminal)",
          description="Content fields are 409 immutable-field; leaving deprecated or going back to draft is 409 "
                      "invalid-transition.",
          responses={200: ("The version", "Version")}, errors=(404, 409))
def patch_version(call: Call, workflow_id: str, version: str) -> object:
    change = StatusChange.from_body(call.json())
    return version_view(services().workflows.change_status(workflow_id, version, change, call.actor, call.principal))


@endpoint(workflows, BASE + "/{workflow_id}/rollback", methods=("POST",), scope="catalog:write",
          body=contracts.ROLLBACK, summary="Deprecate every active version above to_version, in one transaction",
          responses={200: ("The rollback result", "RollbackResult")}, errors=(404, 409))
def rollback(call: Call, workflow_id: str) -> object:
    return services().workflows.rollback(workflow_id, Rollback.from_body(call.json()), call.actor, call.principal)
