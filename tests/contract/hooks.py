"""schemathesis hooks for the contract run (tests/contract/fuzz.py): the intended exceptions, each with its reason.

The run fails on any server error, schema violation, undocumented status or schema-valid request the API
refuses, except the refusals below: rules the OpenAPI document cannot state as a schema (a cursor only the
API can issue, a reference to something that must exist, rules that depend on another field or on stored
data). Each exception names the check's failure code, the operation, and the only errors the refusal may
carry; a refusal with any other error still fails the run. Besides these, the run's configuration
(tests/contract/schemathesis.toml) generates no NUL characters: PostgreSQL text cannot hold them, the API
refuses them in every string with a 400, and JSON Schema has no way to say so for free-form objects
(incident context, parameter values).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import schemathesis

REJECTED_VALID = "ST202"  # positive_data_acceptance: a schema-valid request refused
ACCEPTED_INVALID = "ST201"  # negative_data_rejection: a schema-violating request not refused with a 4xx


@dataclass(frozen=True)
class Exception_:
    code: str
    method: str
    path: str  # the operation's path template; "*" any
    status: int
    errors: str  # every error path of the problem must match this (fullmatch); "" when the problem has none
    reason: str


EXCEPTIONS = (
    Exception_(REJECTED_VALID, "GET", "*", 400, r"\$\.cursor",
               "A cursor is opaque: only a next_cursor the same list issued is valid, which no schema can say."),
    Exception_(REJECTED_VALID, "POST", "/api/v1/recommendations", 400, r"\$\.related_workflow_id",
               "related_workflow_id must name a workflow that exists (a reference to stored data)."),
    Exception_(REJECTED_VALID, "PATCH", "/api/v1/recommendations/{recommendation_id}", 400, r"\$\.workflow_id",
               "Accepting links a workflow that must exist (a reference to stored data)."),
    Exception_(REJECTED_VALID, "POST", "/api/v1/registrations", 400, r"\$\.object(\..*|\[.*)?",
               "The resource is checked against the RemediationWorkflow CRD (crds/remediationworkflow.yaml), its "
               "own contract, which the document points to instead of copying."),
    Exception_(REJECTED_VALID, "POST", "/api/v1/registrations/reconcile", 400, r"\$\.live\[\d+\]\.(namespace|uid)",
               "Each live resource must be inside the scope the same body declares, and each uid listed once: "
               "rules across fields and items."),
    Exception_(REJECTED_VALID, "POST", "/api/v1/executions", 400, r"\$\.(parameters|incident)(\..*)?",
               "Parameters are checked against the workflow version's own parameter schema, and the incident "
               "against its size and storability limits once its free-form context is known (stored data)."),
    Exception_(REJECTED_VALID, "POST", "/api/v1/playbooks", 400,
               r"\$\.(parameters|steps|finally)(\..*|\[.*)?",
               "A parameter schema must follow the parameter-schema rules (docs/playbook-schema.md: env-var names, "
               "scalar types, descriptions, valid defaults) and a composite's steps must resolve to active "
               "workflows of the catalog: rules about a schema inside the body and about stored data."),
    Exception_(REJECTED_VALID, "POST", "/api/v1/alerts/alertmanager", 400,
               r"\$\.alerts\[\d+\]\.(fingerprint|startsAt|endsAt)",
               "Rules across items and fields of an Alertmanager notification: an alert (fingerprint) appears once "
               "in it, and a resolved alert's endsAt is a real time not before its startsAt."),
    Exception_(REJECTED_VALID, "PATCH", "/api/v1/executions/{execution_id}", 400, r"\$\.(started_at|finished_at)",
               "A runner's reported times are checked against each other (the finish not before the start), against "
               "the start already recorded and against the catalog's clock (at most 5 minutes ahead)."),
    Exception_(ACCEPTED_INVALID, "*", "*", 413, "",
               "A body over 1 MiB is refused as too large (413) before its content is looked at."),
)


def excepted(code: str, method: str, path: str, status: int, problem: Any) -> Exception_ | None:
    """The exception that covers this failure, if any."""
    paths = [str(error.get("path", "")) for error in (problem or {}).get("errors", []) if isinstance(error, dict)] \
        if isinstance(problem, dict) else []
    for rule in EXCEPTIONS:
        if (rule.code, rule.status) != (code, status) or rule.method not in ("*", method) or \
                rule.path not in ("*", path):
            continue
        if rule.errors and (not paths or not all(re.fullmatch(rule.errors, p, re.DOTALL) for p in paths)):
            continue
        return rule
    return None


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keeps every failure but the intended exceptions."""
    try:
        problem = json.loads(response.content or b"null")
    except ValueError:
        problem = None
    operation = case.operation
    return excepted(failure.code, operation.method.upper(), operation.path, response.status_code, problem) is None


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    """The run's own key is never revoked (the rest of the run would get 401s): revoking it is tried on a key
    id that does not exist instead. Keys the run creates itself are revoked like any other."""
    operation = context.operation
    own = os.environ.get("CATALOG_FUZZ_KEY_ID")
    if operation is not None and operation.method.upper() == "DELETE" and own and \
            path_parameters.get("key_id") == own:
        return {**path_parameters, "key_id": "not-the-runs-own-key"}
    return path_parameters


# A claim may wait up to 20 s for work (a long poll); the run's requests time out after 10 s and its budget is a
# minute. Waits the run generates are cut to 1 s, keeping them valid (tests/executions/test_runner_claims.py and
# bench/runner.py exercise the long poll itself).
CLAIM_PATH, MAX_FUZZED_WAIT = "/api/v1/executions/claim", 1


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Every phase (generated, coverage, stateful) sends through here: a long claim wait is cut to 1 s."""
    body = case.body
    if case.operation.path == CLAIM_PATH and isinstance(body, dict):
        wait = body.get("wait_seconds")
        # An integer, as JSON Schema counts them (10.0 is one); any other value stays what the case made it.
        if type(wait) in (int, float) and wait == int(wait) and wait > MAX_FUZZED_WAIT:
            case.body = {**body, "wait_seconds": MAX_FUZZED_WAIT}
