"""Dry runs (README, "Guardrails"): POST /api/v1/executions with dry_run answers what a start would do now, every
check evaluated (the version, the incident's labels, every guard, the target lock, approval), with nothing written
(every table compared) and no lock taken (it answers while another transaction holds the workflow's row)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg2

from chalicelib.domain.guards import GUARD_NAMES
from chalicelib.stores.db import Database
from tests.support.api import ApiClient, Result
from tests.support.composites import LABELS
from tests.support.database import table_rows
from tests.support.effectiveness import effectiveness, ineffective_run
from tests.support.executions import (
    COMPOSITE_VALUES,
    EXECUTIONS,
    WRITE,
    create_workflow,
    incident,
    problem_type,
    require_approval,
    set_guards,
    start,
    started,
    stuck_parameters,
)
from tests.support.guards import WORKFLOW, run, target

CHECKOUT = target("checkout")


def dry_run(client: ApiClient, on: dict[str, str] = CHECKOUT, **body: Any) -> Result:
    request = {"workflow_id": WORKFLOW, "incident": incident(), "target": on, "parameters": stuck_parameters(),
               "dry_run": True, **body}
    return client.post(EXECUTIONS, request, scopes=WRITE)


def unchanged(client: ApiClient, db: Database, **body: Any) -> Result:
    """A dry run, with every table the same before and after."""
    client.token(*WRITE)  # its key exists before the rows are compared
    before = table_rows(db)
    response = dry_run(client, **body)
    assert table_rows(db) == before
    return response


def test_a_start_that_would_run_shows_its_pipeline_run(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    response = unchanged(client, db)
    assert response.status == 200, response
    body = response.json
    assert (body["dry_run"], body["outcome"], body["blocked_by"]) == (True, "would-run", [])
    assert body["guards"] == dict.fromkeys(GUARD_NAMES, "passed")
    assert (body["workflow_id"], body["version"], body["approval_required_by"]) == (WORKFLOW, "1.0.0", None)
    run_ = body["pipeline_run"]
    assert run_["kind"] == "PipelineRun" and run_["metadata"]["labels"]["kubernaut.ai/target-name"] == "checkout"
    env = run_["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]["env"]
    assert {"name": "TARGET_DEPLOYMENT", "value": "$(params.TARGET_DEPLOYMENT)"} in env
    assert start(client, target=CHECKOUT).status == 201  # and the start does run


def test_a_start_that_would_wait_for_approval(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    assert require_approval(client).status == 200
    body = unchanged(client, db).json
    assert body["outcome"] == "would-await-approval" and body["blocked_by"] == []
    assert body["approval_required_by"] == {"workflow": True, "steps": []}


def test_every_refusal_is_listed_in_the_order_a_start_meets_them(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    create_workflow(client, "restart-checkout")
    assert set_guards(client, cooldown_seconds=0).status == 200
    elsewhere = started(client, target=target("elsewhere"))["execution_id"]  # active: the blast radius
    # Twice it did not fix the incident here (judged when first read, after the failures: not refused by it then),
    # then a streak of failures, and the circuit opens (3 of the last 5 failed).
    chain = [ineffective_run(client, CHECKOUT, read=False) for _ in range(2)]
    for _ in range(3):
        run(client, CHECKOUT, "failed")
    assert [effectiveness(client, execution_id)["verdict"] for execution_id in chain] == ["ineffective"] * 2
    assert set_guards(client, cooldown_seconds=300, max_concurrent=1).status == 200
    holder = started(client, workflow_id="restart-checkout", target=CHECKOUT)["execution_id"]  # the target is busy

    body = unchanged(client, db, incident=incident(severity="critical")).json  # a severity the workflow excludes
    assert body["outcome"] == "blocked"
    assert [problem["type"].rsplit("/", 1)[-1] for problem in body["blocked_by"]] == [
        "workflow-not-applicable", "circuit-open", "consecutive-failures", "ineffective-chain", "recently-remediated",
        "rate-limited", "target-busy"]
    assert body["guards"] == dict.fromkeys(GUARD_NAMES, "blocked")
    problems = {problem["type"].rsplit("/", 1)[-1]: problem for problem in body["blocked_by"]}
    assert problems["target-busy"]["active_execution_id"] == holder
    assert problems["rate-limited"]["retry_after"] == 30 and problems["circuit-open"]["retry_after"] is None
    assert all(execution_id in problems["ineffective-chain"]["detail"] for execution_id in chain)
    assert all(problem["status"] == 409 for problem in body["blocked_by"])
    assert body["pipeline_run"] is not None  # what would run, were it not refused

    # A real start answers the first of them, and writes nothing either.
    refused = start(client, target=CHECKOUT, incident=incident(severity="critical"))
    assert problem_type(refused) == "workflow-not-applicable"
    assert problem_type(start(client, target=CHECKOUT)) == "circuit-open"
    assert elsewhere != holder


def test_a_workflow_without_an_active_version_is_blocked_with_no_run(client: ApiClient, db: Database) -> None:
    create_workflow(client, status="draft")
    body = unchanged(client, db).json
    assert body["outcome"] == "blocked" and body["version"] is None and body["pipeline_run"] is None
    assert [problem["type"].rsplit("/", 1)[-1] for problem in body["blocked_by"]] == ["invalid-transition"]


def test_bad_input_is_an_error_of_the_dry_run_and_writes_nothing(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    invalid = unchanged(client, db, parameters={"TARGET_NAMESPACE": "shop", "UNDECLARED": "x"})
    assert invalid.status == 400 and problem_type(invalid) == "validation-error"
    assert unchanged(client, db, workflow_id="no-such-workflow").status == 404
    assert unchanged(client, db, version="9.9.9").status == 404
    flag = unchanged(client, db, dry_run="yes")
    assert flag.status == 400 and "$.dry_run" in [error["path"] for error in flag.json["errors"]]


def test_it_takes_no_lock(client: ApiClient, db: Database, database_url: str) -> None:
    create_workflow(client)
    client.token(*WRITE)
    holder = psycopg2.connect(database_url)  # an operator's change in progress holds the workflow's row
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM workflows WHERE workflow_id = %s FOR UPDATE", (WORKFLOW,))
        answers: list[Result] = []
        thread = threading.Thread(target=lambda: answers.append(dry_run(client)), daemon=True)
        thread.start()
        thread.join(timeout=10)
        waited = thread.is_alive()
    finally:
        holder.rollback()
        holder.close()
    thread.join(timeout=10)
    assert not waited, "the dry run waited for the workflow's row lock"
    assert answers[0].status == 200 and answers[0].json["outcome"] == "would-run"


def test_a_composite_dry_run_shows_its_one_pipeline_run(composed: ApiClient, db: Database) -> None:
    composed.token(*WRITE)
    before = table_rows(db)
    response = composed.post(EXECUTIONS, {
        "workflow_id": "scale-and-verify", "incident": incident(signal_type=LABELS["signal_type"]), "target": CHECKOUT,
        "parameters": COMPOSITE_VALUES, "dry_run": True}, scopes=WRITE)
    assert table_rows(db) == before
    assert response.status == 200 and response.json["outcome"] == "would-run", response
    tasks = [task["name"] for task in response.json["pipeline_run"]["spec"]["pipelineSpec"]["tasks"]]
    assert "scale-out" in tasks
