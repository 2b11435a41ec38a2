"""The MCP route (README, "Agent interface (MCP)") and its tools, each one a REST route.

The tool descriptions are written for the model that reads them: what the labels mean, that they
are hard filters, what ``confident`` says, which parameters are secrets. Each tool runs its REST
route (chalicelib/http/mcp/tools.py), so it has that route's contract, scope and rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Blueprint

from chalicelib.domain import contracts
from chalicelib.domain.guards import BLOCKED, OPEN, WOULD_AWAIT_APPROVAL, WOULD_RUN
from chalicelib.http.endpoint import Call, endpoint
from chalicelib.http.mcp.tools import Annotations, Tool, problem_text
from chalicelib.http.operations import ANY_KEY
from chalicelib.http.problems import problem_headers, problem_response
from chalicelib.http.request import request_path

mcp = Blueprint(__name__)
PATH = "/mcp"

LABELS = (
    "Labels come from the alert's context and are hard filters, never guesses: signal_type (the alert or signal, "
    "e.g. OOMKilled, KubePodCrashLooping), severity (critical, high, medium, low), environment (production, "
    "staging, development, ...), component (the kind of resource affected: deployment, statefulset, pod, node, "
    "...), priority (P0-P4) and business context (business_category, risk_tolerance, cost_constraint, ...). A "
    "workflow qualifies only if it declares the same value (case-insensitive), a list containing it, or \"*\". "
    "Copy the labels from the alert; never change or drop one to reach a workflow."
)
SECRETS = ("A parameter whose schema says \"writeOnly\": true is a secret (a token, a password): pass one only if "
           "you were given it, never invent it; it is shown as \"***\" everywhere, and only the runner in the "
           "target's cluster receives it.")


def _search_text(body: Mapping[str, Any]) -> str:
    results = body.get("results") or []
    text = f"{len(results)} result(s); confident: {str(body.get('confident')).lower()}."
    if results:
        top = results[0]
        text += f" Top: {top.get('workflow_id')} {top.get('version')} ({top.get('title')}), score {top.get('score')}."
    if not body.get("confident"):
        text += (" Not confident that any result fits this incident: do not execute; call recommend_workflow and "
                 "escalate to a human.")
    tripped = [str(result.get("workflow_id")) for result in results if result.get("circuit") == OPEN]
    if tripped:
        text += (f" Circuit breaker open (start_execution refuses it until an operator closes it): "
                 f"{', '.join(tripped)}.")
    if results:
        signal = (results[0].get("track_record") or {}).get("signal_type")
        text += ("\nTrack record " + (f"for signal {signal}" if signal else "over every signal")
                 + " (what earlier runs came to; the ranking does not use it, weigh it yourself):")
        text += "".join(f"\n- {result.get('workflow_id')}: {_record_text(result.get('track_record') or {}, signal)}"
                        for result in results[:TRACK_RECORDS_TOLD])
    return text


TRACK_RECORDS_TOLD = 5  # results whose track record the text tells (structuredContent has every one)


def _record_text(record: Mapping[str, Any], signal: str | None) -> str:
    """A track record in words, e.g. "ineffective 3 of 4 times for this signal (the alert stayed or came back)"."""
    runs = int(record.get("executions") or 0)
    if not runs:
        return "never run" + (" for this signal" if signal else "") + "."
    scope = "for this signal" if signal else "overall"
    succeeded, failed = int(record.get("succeeded") or 0), int(record.get("failed") or 0)
    parts = [f"ran {runs} time(s) {scope}, succeeded {succeeded} of {succeeded + failed} finished"]
    judged, ineffective = int(record.get("judged") or 0), int(record.get("ineffective") or 0)
    if judged:
        parts.append(f"ineffective {ineffective} of {judged} times {scope} (judged by its alerts: still firing or "
                     "firing again after the run means it did not fix the incident)")
        if record.get("unknown"):
            parts.append(f"{record['unknown']} of those {judged} had no alert to judge by (unknown)")
    else:
        parts.append("no effectiveness verdict yet")
    return "; ".join(parts) + "."


def _workflow_text(body: Mapping[str, Any]) -> str:
    schema = body.get("parameters") or {}
    properties, required = schema.get("properties") or {}, set(schema.get("required") or [])
    names = [f"{name}{' (required)' if name in required else ''}"
             f"{' (writeOnly: a secret)' if (properties[name] or {}).get('writeOnly') else ''}"
             for name in sorted(properties, key=lambda name: (name not in required, name))]
    text = (f"{body.get('workflow_id')}: latest active version {body.get('latest_version')}, enabled: "
            f"{str(body.get('enabled')).lower()}. Parameters: {', '.join(names) or 'none'}.")
    if (body.get("circuit") or {}).get("state") == OPEN:
        text += " Its circuit breaker is open: start_execution refuses it until an operator closes it."
    return text


def _validation_text(body: Mapping[str, Any]) -> str:
    if body.get("valid"):
        return "Valid: start_execution may use these parameters (defaults applied in parameters)."
    errors = body.get("errors") or []
    return f"Not valid, {len(errors)} error(s): " + "; ".join(f"{e.get('path')}: {e.get('message')}" for e in errors)


NEXT_STEP = {
    "pending": ("The runner in the target's cluster creates pipeline_run and reports how it ends; follow the "
                "execution with get_execution."),
    "awaiting_approval": ("It awaits approval by another engineer: nothing runs until it is approved, and "
                          "pipeline_run is null. Do not start it again; follow it with get_execution."),
}


def _execution_text(body: Mapping[str, Any]) -> str:
    status = body.get("status")
    text = f"Execution {body.get('execution_id')} of {body.get('workflow_id')} {body.get('version')}: {status}."
    if body.get("reason"):
        text += f" Reason: {body['reason']}."
    if body.get("message"):
        text += f" Message: {body['message']}"
    effectiveness = body.get("effectiveness")
    if effectiveness:
        if effectiveness.get("verdict"):
            text += f" Effectiveness: {(effectiveness.get('evidence') or {}).get('summary')}"
        else:
            text += (f" Effectiveness: judged at {effectiveness.get('window_ends_at')}, once its alerts have had the "
                     "window to resolve and stay resolved.")
    return text


def _started_text(body: Mapping[str, Any]) -> str:
    if body.get("dry_run"):
        return _dry_run_text(body)
    return f"{_execution_text(body)} {NEXT_STEP.get(str(body.get('status')), '')}".strip()


DRY_RUN_OUTCOMES: dict[str, str] = {
    WOULD_RUN: "it would run now (pipeline_run shows its PipelineRun); start_execution without dry_run runs it.",
    WOULD_AWAIT_APPROVAL: "it would wait for another engineer's approval before anything runs.",
    BLOCKED: "it would be refused:",
}


def _dry_run_text(body: Mapping[str, Any]) -> str:
    text = (f"Dry run of {body.get('workflow_id')} {body.get('version')}, nothing recorded: "
            f"{DRY_RUN_OUTCOMES.get(str(body.get('outcome')), '')}")
    for problem in body.get("blocked_by") or []:
        text += f"\n- {problem_text(problem)}"
    return text


def _recommendation_text(body: Mapping[str, Any]) -> str:
    return (f"Recommendation {body.get('recommendation_id')} is {body.get('status')} with {body.get('occurrences')} "
            "occurrence(s). Operators review it; nothing is created automatically.")


READ = Annotations()
TOOLS = (
    Tool(
        "search_workflows", "Search remediation workflows", (
            "Search the remediation workflow catalog for an incident. Give query (the alert name, its summary and "
            "what your analysis found) and labels. " + LABELS + " Similarity (semantic and full text) only ranks "
            "the workflows the labels allow; each result's score and explanation say why. confident: true means "
            "the top result is judged to really fit the incident. confident: false means nothing fits well enough: "
            "do NOT execute any result; call recommend_workflow and hand the incident to a human. Each result's "
            "track_record says what its earlier runs came to (for the labels' signal_type, else overall): success_rate "
            "(the run finished without error) and effectiveness_rate (the alert resolved and stayed resolved "
            "afterwards); a low effectiveness rate for this signal means it often did not fix such incidents. The "
            "ranking does not use it: weigh it yourself."),
        "POST", "/api/v1/playbooks/search", _search_text, READ),
    Tool(
        "get_workflow", "Read a workflow", (
            "Read a workflow by its id: the latest active version (title, description, labels, the digest-pinned "
            "container image), whether it is enabled, its versions, and parameters: the JSON Schema of the "
            "parameters it takes. Fill parameters only from this schema; names it does not declare are rejected. "
            + SECRETS),
        "GET", "/api/v1/playbooks/{workflow_id}", _workflow_text, READ),
    Tool(
        "validate_parameters", "Validate parameters", (
            "Check proposed parameters against a workflow version's parameter schema without running anything. "
            "Returns valid, the errors (the JSON path of each parameter and what to change; undeclared names are "
            "errors) and the parameters with defaults applied (writeOnly values shown as \"***\"). Fix every error "
            "and validate again before start_execution. " + SECRETS),
        "POST", "/api/v1/playbooks/{workflow_id}/versions/{version}/validate", _validation_text, READ),
    Tool(
        "start_execution", "Start a remediation", (
            "Start a remediation workflow for an incident. Only after search_workflows answered confident: true "
            "for this workflow (or a human told you to). The parameters are validated against the version's "
            "schema: any error, an undeclared name included, refuses the call and nothing runs. Omit version to "
            "run the latest active version. incident carries the incident's id and signal_type and the alert's "
            "labels exactly as given (severity, environment, component, priority, business_context): they are "
            "applied as hard filters to the workflow (a workflow they exclude is refused: workflow-not-applicable). "
            "target names the resource the remediation acts on ({kind, name, namespace, cluster}, e.g. the "
            "Deployment; cluster omitted: \"default\"): only one remediation may be active per target at a time "
            "(target-busy names the active execution). "
            + SECRETS + " The result is the recorded execution and "
            "pipeline_run, the Tekton PipelineRun the runner in the target's cluster creates by itself (nothing for "
            "you to create). status awaiting_approval means another "
            "engineer must approve it first: pipeline_run is null and nothing runs until then; do not start it "
            "again, follow it with get_execution. A refusal (a disabled workflow, a version that is not active, a "
            "target already being remediated) says why; do not retry it unchanged. Guards refuse a remediation that "
            "should not run again now: recently-remediated (it finished on this target moments ago: wait "
            "retry_after seconds, and only if the problem persists), consecutive-failures (it kept failing on this "
            "target: a human must clear it), rate-limited (too many runs of it this hour or at once across the "
            "fleet: wait retry_after seconds), circuit-open (it fails too often everywhere: a human must close its "
            "circuit), ineffective-chain (it ran here twice in a day for this signal and the alert stayed or came "
            "back: it does not fix this incident, escalate to a human); never work around one with another workflow "
            "or target. dry_run: true answers what would "
            "happen (would-run, would-await-approval, or blocked with every refusal) and records nothing."),
        "POST", "/api/v1/executions", _started_text,
        Annotations(read_only=False, destructive=True, idempotent=False)),
    Tool(
        "get_execution", "Read an execution", (
            "Read an execution by its id: status (pending, running, succeeded, failed; with approvals also "
            "awaiting_approval, approved, rejected, expired), workflow and version, incident, parameters (writeOnly "
            "values shown as \"***\"), timestamps and every status change with who and why. A succeeded execution's "
            "effectiveness says, once its window has passed, whether it fixed the incident: effective (its alerts "
            "resolved and stayed resolved), ineffective (still firing, or firing again), unknown (no alert seen)."),
        "GET", "/api/v1/executions/{execution_id}", _execution_text, READ),
    Tool(
        "recommend_workflow", "Recommend a missing workflow", (
            "Tell the operators which workflow the catalog lacks: when search_workflows found nothing that fits "
            "(confident: false) or a human asks. summary: one sentence saying what the missing workflow should do; "
            "rationale: what your analysis found and why no catalog workflow fits; proposed_steps: what it would "
            "do, in order; confidence: 0-1, how sure you are that such a workflow is needed; related_workflow_id: "
            "a catalog workflow that came close, if any. incident: its id, signal_type and labels (component above "
            "all). The same gap posted again from another incident (same signal_type and component, a summary "
            "saying the same thing) counts an occurrence on the open recommendation. Nothing is created "
            "automatically: operators review recommendations, register workflows and accept or dismiss them."),
        "POST", "/api/v1/recommendations", _recommendation_text,
        Annotations(read_only=False, destructive=False, idempotent=True)),
)


@endpoint(mcp, PATH, methods=("POST",), scope=ANY_KEY, body=contracts.MCP_MESSAGE,
          summary="Model Context Protocol server (Streamable HTTP, stateless, JSON responses)",
          description="Protocol versions 2025-06-18 and 2025-11-25 (the initialize handshake) and 2026-07-28 (the "
                      "per-request envelope, server/discover). Any valid key may connect; each tool needs the scope "
                      "of its REST route. Tools: " + ", ".join(tool.name for tool in TOOLS) + ". Protocol errors "
                      "are JSON-RPC errors (application/json): 400 for malformed JSON, an invalid request, invalid "
                      "params, a header mismatch or an unsupported protocol version (error.data.supported lists "
                      "the versions served); an unknown method is 404 in the 2026-07-28 era and a JSON-RPC error "
                      "on 200 in the handshake era. Tool failures are results with isError: true.",
          responses={200: ("A JSON-RPC response (result or error)", "McpResponse"),
                     202: ("A notification, accepted (no body)", None)})
def mcp_message(call: Call) -> object:
    from chalicelib.http.mcp.protocol import handle  # the protocol types load only for MCP requests

    assert call.principal is not None  # the route needs a key
    return handle(call.request, call.principal, TOOLS)


@endpoint(mcp, PATH, methods=("GET", "DELETE"), scope=ANY_KEY,
          summary="Not served: this MCP server keeps no SSE stream and no session (405)", responses={},
          errors=(405,))
def mcp_no_stream(call: Call) -> object:
    response = problem_response(405, "method-not-allowed", "Method not allowed",
                                "POST JSON-RPC messages to /mcp; this server is stateless and answers in JSON, "
                                "so it offers no SSE stream and no session to delete.", request_path(call.request))
    response.headers.update({**problem_headers(405), "Allow": "POST"})
    return response
