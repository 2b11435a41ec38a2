"""Routes of parameters and execution (README, "Parameters and executions"): parse -> ExecutionService -> respond.

Also the two playbook sub-resources that belong to execution: parameter validation and statistics.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from chalice import Blueprint

from chalicelib.container import services
from chalicelib.domain import contracts
from chalicelib.domain.executions import (
    parse_claim_request,
    parse_decision,
    parse_execution_request,
    parse_status_update,
    parse_validate_request,
)
from chalicelib.domain.guards import GUARD_NAMES
from chalicelib.domain.versions import normalize_version
from chalicelib.http.endpoint import Call, endpoint, json_response
from chalicelib.http.paging import page_body
from chalicelib.http.views import claim_view, dry_run_view, execution_detail_view, execution_view, stats_view

executions = Blueprint(__name__)
BASE = "/api/v1/executions"
PLAYBOOKS = "/api/v1/playbooks"
GUARDS = (f"409 guards (README, \"Guardrails\"): {', '.join(GUARD_NAMES)}, each with retry_after (seconds; null "
          "when an operator must act) and a Retry-After header where waiting helps.")
NOT_EXECUTABLE = ("409: invalid-transition when the workflow is disabled, the version is not active, or (no version "
                  "given) there is no active version; unresolvable-step when a step of a composite workflow no "
                  "longer resolves to a runnable version (docs/composite-workflows.md).")


@endpoint(executions, PLAYBOOKS + "/{workflow_id}/versions/{version}/validate", methods=("POST",),
          body=contracts.VALIDATE_REQUEST,
          summary="Validate proposed parameters against a version's schema (any status); applies defaults",
          responses={200: ("The validation report", "ParameterValidation")}, errors=(404,))
def validate_parameters(call: Call, workflow_id: str, version: str) -> object:
    parameters = parse_validate_request(call.json())
    return asdict(services().executions.validate(workflow_id, version, parameters))


@endpoint(executions, BASE, methods=("POST",), scope="executions:write", body=contracts.EXECUTION_REQUEST,
          summary="Validate parameters, record a pending execution and see the Tekton PipelineRun its runner creates "
                  "(or, dry_run: what would happen)",
          description="400 validation-error on any parameter error (nothing is stored). " + NOT_EXECUTABLE
          + " 409: workflow-not-applicable when a label of the incident excludes the workflow (errors name them); "
            "target-busy (with active_execution_id) when the target (cluster, kind, namespace, name) has an active "
            "execution. " + GUARDS + " A workflow with approval_required, or a composite one of whose steps resolves "
            "to such a workflow, answers status awaiting_approval and pipeline_run null (approval.required_by names "
            "the steps): another key with executions:approve approves it, then POST .../start. A key limited to "
            "namespaces: 403 unless the target's namespace is one of them. The runner of target.cluster claims the "
            "pending execution and creates pipeline_run; writeOnly values are never in it (its step reads them from "
            "the Secret only the claim carries). With dry_run true: 200 with the outcome (would-run, "
            "would-await-approval, blocked), every refusal in blocked_by and the PipelineRun; nothing is written and "
            "no lock taken.",
          responses={201: ("Recorded; pipeline_run is what the cluster's runner creates (null: it awaits approval)",
                           "ExecutionStarted"),
                     200: ("dry_run: what a start would do now; nothing was recorded", "DryRun")}, errors=(404, 409))
def start_execution(call: Call) -> object:
    request = parse_execution_request(call.json())
    if request.dry_run:
        return dry_run_view(services().executions.dry_run(request, call.principal))
    started = services().executions.start(request, call.actor, call.principal)
    return json_response({**execution_view(started.execution), "pipeline_run": started.pipeline_run}, status=201)


@endpoint(executions, BASE + "/{execution_id}/approve", methods=("POST",), scope="executions:approve",
          body=contracts.DECISION, summary="Approve an execution awaiting approval (reason required)",
          description="403 when this key requested the execution; 409 invalid-transition unless it is "
                      "awaiting_approval (an expired one included). The approval window starts again, for the start.",
          responses={200: ("The execution, approved", "Execution")}, errors=(404, 409))
def approve_execution(call: Call, execution_id: str) -> object:
    return execution_view(services().executions.approve(execution_id, parse_decision(call.json()), call.actor,
                                                        call.principal))


@endpoint(executions, BASE + "/{execution_id}/reject", methods=("POST",), scope="executions:approve",
          body=contracts.DECISION,
          summary="Reject an execution awaiting approval or approved (final; frees the target)",
          description="409 invalid-transition unless it is awaiting_approval or approved. The requesting key may "
                      "reject (withdraw) its own request.",
          responses={200: ("The execution, rejected", "Execution")}, errors=(404, 409))
def reject_execution(call: Call, execution_id: str) -> object:
    return execution_view(services().executions.reject(execution_id, parse_decision(call.json()), call.actor,
                                                       call.principal))


@endpoint(executions, BASE + "/{execution_id}/start", methods=("POST",), scope="executions:write",
          summary="Start an approved execution: it becomes pending (claimable by its runner), with its PipelineRun",
          description="403 for any key but the one that requested it. 409 invalid-transition unless it is approved (so "
                      "also when started already), when the workflow was disabled or the version deprecated since, or "
                      "when a composite's step now resolves to a workflow requiring approval that the approval did "
                      "not cover. The guards are checked again (the execution stays approved when one refuses): "
                      + GUARDS,
          responses={200: ("Started; pipeline_run is what the cluster's runner creates", "ExecutionStarted")},
          errors=(404, 409))
def start_approved_execution(call: Call, execution_id: str) -> object:
    started = services().executions.release(execution_id, call.actor, call.principal)
    return {**execution_view(started.execution), "pipeline_run": started.pipeline_run}


@endpoint(executions, BASE + "/claim", methods=("POST",), scope="executions:run", body=contracts.CLAIM_REQUEST,
          summary="A runner claims its cluster's pending executions (leased; long poll with wait_seconds)",
          description="The key's cluster's executions (a key without a binding: cluster 'default'; a key limited to "
                      "namespaces: those whose target is in them) that are pending with no live lease, or running "
                      "with a lapsed one, oldest first: at most max newly leased to runner_id, plus the pending ones "
                      "whose live lease runner_id holds already (handed back, e.g. after its restart). Each is leased "
                      "for CLAIM_LEASE_SECONDS; two runners never hold one. With wait_seconds the answer comes as soon "
                      "as a new one is ready (within about a second), or at the end of the wait. secret: the Secret "
                      "holding the writeOnly values, until the execution is reported running (else null). Executions "
                      "awaiting approval or approved are never claimable.",
          responses={200: ("The claimed executions", "ExecutionClaims")})
def claim_executions(call: Call) -> object:
    claimed = services().executions.claim(parse_claim_request(call.json()), call.actor, call.principal)
    return claim_view(claimed)


@endpoint(executions, BASE + "/{execution_id}", methods=("PATCH",), scope="executions:run",
          body=contracts.EXECUTION_UPDATE, summary="A runner reports an execution (running, succeeded, failed)",
          description="Only from a key with executions:run acting for the execution's target cluster: any other key "
                      "403. running again is the heartbeat; each report renews the lease. pending -> running -> "
                      "succeeded | failed, or pending -> succeeded | failed at once. 400 for times that are not RFC "
                      "3339, are in the future, or end before they start. 409 invalid-transition once it is final "
                      "(or not runnable: awaiting approval, approved).",
          responses={200: ("The execution", "Execution")}, errors=(404, 409))
def update_execution(call: Call, execution_id: str) -> object:
    update = parse_status_update(call.json(), datetime.now(UTC))
    return execution_view(services().executions.report(execution_id, update, call.actor, call.principal))


@endpoint(executions, BASE, query=contracts.EXECUTIONS_QUERY, summary="The execution audit trail, newest first",
          description="A key limited to namespaces sees only the executions whose target is in one of them.",
          responses={200: ("A page of executions", "ExecutionPage")})
def list_executions(call: Call) -> object:
    q = call.query
    version = normalize_version(q["version"]) if "version" in q else None  # the contract checked its form
    result = services().executions.list_executions(q.get("workflow_id"), version, q.get("status"), q["limit"],
                                                   q.get("cursor"), call.principal)
    return page_body(result, execution_view)


@endpoint(executions, BASE + "/{execution_id}", summary="One execution with its status changes",
          description="403 for a key limited to namespaces when the target is in none of them.",
          responses={200: ("The execution", "ExecutionDetail")}, errors=(404,))
def get_execution(call: Call, execution_id: str) -> object:
    return execution_detail_view(*services().executions.get(execution_id, call.principal))


@endpoint(executions, PLAYBOOKS + "/{workflow_id}/stats",
          summary="Execution statistics from the audit trail, per version and per signal_type: counts, success rate, "
                  "effectiveness rate, durations",
          description="The workflow's successes whose effectiveness window has ended are judged first (README, "
                      "\"Effectiveness\").",
          responses={200: ("Statistics, versions newest SemVer first, signal types by name", "WorkflowStats")},
          errors=(404,))
def workflow_stats(call: Call, workflow_id: str) -> object:
    return stats_view(workflow_id, *services().executions.stats(workflow_id))
