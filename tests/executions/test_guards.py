"""Each guard alone, at its boundary, on the real database through the API (README, "Guardrails"): the cooldown's
last second, the N-th failure in a row and an operator's clear, the hour's limit, the blast radius; the settings
(defaults from configuration, changes audited, bad input refused with nothing written), who may change them, and the
database holding the domain's vocabulary."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from chalicelib.config import load_settings
from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.guards import DEFAULTS, HISTORY_FIELDS, SETTING_NAMES, GuardSettings
from chalicelib.domain.limits import GUARD_SETTING_BOUNDS
from chalicelib.stores.db import Database
from tests.support.api import ApiClient, Result, services_started_with
from tests.support.catalog import catalog_snapshot
from tests.support.database import table_rows
from tests.support.executions import (
    PLAYBOOKS,
    create_workflow,
    decide,
    problem_type,
    require_approval,
    set_guards,
    start,
    started,
)
from tests.support.guards import WORKFLOW, backdate, finish, history, run, target, workflow_read
from tests.support.keys import bearer, key_id_of

WRITE_CATALOG = ("catalog:write",)
CHECKOUT = target("checkout")


def retry_after_header(response: Result) -> str | None:
    return {name.lower(): value for name, value in response.headers.items()}.get("retry-after")


def clear(client: ApiClient, on: dict[str, str], reason: str = "the node was replaced", **kwargs: Any) -> Result:
    kwargs.setdefault("scopes", WRITE_CATALOG)
    return client.post(f"{PLAYBOOKS}/{WORKFLOW}/guards/clear", {"target": on, "reason": reason}, **kwargs)


# --- recently-remediated --------------------------------------------------------------------------------------
def test_the_cooldown_refuses_until_its_last_second_is_over(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    assert set_guards(client, cooldown_seconds=120).status == 200
    last = run(client, CHECKOUT, "succeeded")
    backdate(db, last, "finished_at", 119)  # the cooldown's last second
    refused = start(client, target=CHECKOUT)
    assert refused.status == 409 and problem_type(refused) == "recently-remediated", refused
    assert refused.json["retry_after"] == 1 and retry_after_header(refused) == "1"
    detail = refused.json["detail"]
    assert "Deployment shop/checkout" in detail and last in detail and "120 s" in detail and "Retry after 1 s" in detail
    assert start(client, target=target("cart")).status == 201  # per target: another one runs meanwhile
    backdate(db, last, "finished_at", 120)  # over
    assert start(client, target=CHECKOUT).status == 201


def test_the_cooldown_is_per_workflow(client: ApiClient) -> None:
    create_workflow(client)
    create_workflow(client, "restart-checkout")
    run(client, CHECKOUT, "succeeded")
    assert problem_type(start(client, target=CHECKOUT)) == "recently-remediated"
    assert start(client, "restart-checkout", target=CHECKOUT).status == 201


def test_a_failed_run_starts_the_cooldown_too_and_zero_means_none(client: ApiClient) -> None:
    create_workflow(client)
    run(client, CHECKOUT, "failed")
    refused = start(client, target=CHECKOUT)
    assert problem_type(refused) == "recently-remediated" and 299 <= refused.json["retry_after"] <= 300
    assert set_guards(client, cooldown_seconds=0).status == 200
    assert start(client, target=CHECKOUT).status == 201


# --- consecutive-failures --------------------------------------------------------------------------------------
def test_the_nth_failure_in_a_row_refuses_until_an_operator_clears_it(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    assert set_guards(client, cooldown_seconds=0).status == 200  # the streak alone
    run(client, CHECKOUT, "failed")
    run(client, CHECKOUT, "failed")
    third = run(client, CHECKOUT, "failed")  # two failures in a row do not refuse the third run
    refused = start(client, target=CHECKOUT)
    assert refused.status == 409 and problem_type(refused) == "consecutive-failures", refused
    assert refused.json["retry_after"] is None and retry_after_header(refused) is None  # waiting does not help
    assert third in refused.json["detail"] and f"/api/v1/playbooks/{WORKFLOW}/guards/clear" in refused.json["detail"]
    assert start(client, target=target("cart")).status == 201  # a streak is per target

    cleared = clear(client, CHECKOUT)
    assert cleared.status == 200, cleared
    assert cleared.json == {"workflow_id": WORKFLOW, "target": {**CHECKOUT, "cluster": "default"}, "failures": 3,
                            "cleared": True,
                            "execution_id": third}
    record = history(client)[-1]
    assert (record["field"], record["from"], record["to"], record["reason"], record["changed_by"]) == (
        "failure_streak", "3 failed in a row on Deployment shop/checkout", "cleared", "the node was replaced",
        key_id_of(client.auth(*WRITE_CATALOG)))
    again = started(client, target=CHECKOUT)["execution_id"]

    # Nothing left to clear: 200, cleared false, and nothing written.
    before = table_rows(db)
    nothing = clear(client, CHECKOUT)
    assert nothing.status == 200 and nothing.json["cleared"] is False and nothing.json["failures"] == 0
    assert table_rows(db) == before
    # The cleared failures count no more: one new failure is a streak of one.
    finish(client, again, "failed")
    assert start(client, target=CHECKOUT).status == 201


def test_a_success_breaks_the_streak(client: ApiClient) -> None:
    create_workflow(client)
    assert set_guards(client, cooldown_seconds=0).status == 200
    for status in ("failed", "succeeded", "failed", "failed"):
        run(client, CHECKOUT, status)
    assert start(client, target=CHECKOUT).status == 201  # two in a row since the success


def test_the_streak_limit_is_the_workflows_setting(client: ApiClient) -> None:
    create_workflow(client)
    assert set_guards(client, cooldown_seconds=0, max_consecutive_failures=1).status == 200
    run(client, CHECKOUT, "failed")
    assert problem_type(start(client, target=CHECKOUT)) == "consecutive-failures"
    assert set_guards(client, max_consecutive_failures=2).status == 200
    assert start(client, target=CHECKOUT).status == 201


# --- rate-limited ------------------------------------------------------------------------------------------------
def test_the_hourly_limit_counts_requests_of_the_last_hour_on_every_target(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    assert set_guards(client, max_executions_per_hour=3).status == 200
    targets = [target("a"), target("b", "payments"), {"kind": "Node", "name": "node-1"}]
    first, _, _ = (run(client, on, "succeeded") for on in targets)  # finished: the hour counts them still
    refused = start(client, target=target("d"))
    assert refused.status == 409 and problem_type(refused) == "rate-limited", refused
    assert 3590 <= refused.json["retry_after"] <= 3600
    assert retry_after_header(refused) == str(refused.json["retry_after"])
    assert "max_executions_per_hour 3" in refused.json["detail"]

    backdate(db, first, "created_at", 3599)  # the hour's last second for the oldest request
    refused = start(client, target=target("d"))
    assert problem_type(refused) == "rate-limited" and refused.json["retry_after"] == 1
    backdate(db, first, "created_at", 3600)
    assert start(client, target=target("d")).status == 201


def test_a_rejected_request_frees_its_hourly_slot(client: ApiClient) -> None:
    create_workflow(client)
    assert require_approval(client).status == 200
    assert set_guards(client, max_executions_per_hour=1).status == 200
    waiting = started(client, target=target("a"))["execution_id"]
    assert problem_type(start(client, target=target("b"))) == "rate-limited"
    assert decide(client, waiting, "reject").status == 200  # it never ran
    assert start(client, target=target("b")).status == 201


def test_max_concurrent_counts_active_executions_on_every_target(client: ApiClient) -> None:
    create_workflow(client)
    assert set_guards(client, max_concurrent=2).status == 200
    first = started(client, target=target("a"))["execution_id"]
    started(client, target=target("b", "payments"))
    refused = start(client, target=target("c"))
    assert refused.status == 409 and problem_type(refused) == "rate-limited", refused
    assert refused.json["retry_after"] == 30 and retry_after_header(refused) == "30"
    assert "max_concurrent 2" in refused.json["detail"]
    finish(client, first, "succeeded")
    assert start(client, target=target("c")).status == 201


# --- settings ----------------------------------------------------------------------------------------------------
def test_settings_default_to_configuration_and_change_with_a_reason_in_the_history(client: ApiClient) -> None:
    create_workflow(client)
    read = workflow_read(client)
    assert read["guards"] == DEFAULTS.to_dict() == {"cooldown_seconds": 300, "max_consecutive_failures": 3,
                                                    "max_executions_per_hour": 60, "max_concurrent": 10}
    assert read["guards_from_configuration"] == list(SETTING_NAMES)
    assert read["circuit"] == {"state": "closed", "changed_at": None, "changed_by": None, "reason": None}

    changed = set_guards(client, reason="rollouts take 15 minutes", cooldown_seconds=900, max_concurrent=2)
    assert changed.status == 200, changed
    assert changed.json["guards"] == {**DEFAULTS.to_dict(), "cooldown_seconds": 900, "max_concurrent": 2}
    assert changed.json["guards_from_configuration"] == ["max_consecutive_failures", "max_executions_per_hour"]
    who = key_id_of(client.auth(*WRITE_CATALOG))
    assert [(r["field"], r["from"], r["to"], r["reason"], r["changed_by"]) for r in history(client)] == [
        ("cooldown_seconds", "300 (default)", "900", "rollouts take 15 minutes", who),
        ("max_concurrent", "10 (default)", "2", "rollouts take 15 minutes", who)]
    assert set_guards(client, cooldown_seconds=900).status == 200  # the same value: no change, no record
    assert set_guards(client, reason="back to the default", cooldown_seconds=None).status == 200
    assert history(client)[-1]["from"] == "900" and history(client)[-1]["to"] == "300 (default)"
    assert len(history(client)) == 3
    assert workflow_read(client)["guards"]["cooldown_seconds"] == 300


@pytest.mark.parametrize(("body", "path"), [
    ({"guards": {"cooldown_seconds": -1}}, "$.guards.cooldown_seconds"),
    ({"guards": {"cooldown_seconds": 7 * 24 * 3600 + 1}}, "$.guards.cooldown_seconds"),
    ({"guards": {"max_consecutive_failures": 0}}, "$.guards.max_consecutive_failures"),
    ({"guards": {"max_executions_per_hour": 10**12}}, "$.guards.max_executions_per_hour"),
    ({"guards": {"max_concurrent": 1001}}, "$.guards.max_concurrent"),
    ({"guards": {"max_concurrent": "3"}}, "$.guards.max_concurrent"),
    ({"guards": {"max_concurrent": 2.5}}, "$.guards.max_concurrent"),
    ({"guards": {"max_concurrent": True}}, "$.guards.max_concurrent"),
    ({"guards": {"retries": 3}}, "$.guards.retries"),  # no such guard
    ({"guards": {}}, "$.guards"),
    ({"guards": [300]}, "$.guards"),
    ({"enabled": False, "guards": {"max_concurrent": -5}}, "$.guards.max_concurrent"),  # the valid part neither
    ({"circuit": "open"}, "$.circuit"),  # the breaker opens by itself only
])
def test_bad_guard_settings_are_400_and_change_nothing(client: ApiClient, db: Database, body: dict[str, Any],
                                                       path: str) -> None:
    create_workflow(client)
    before = catalog_snapshot(db)
    response = client.patch(f"{PLAYBOOKS}/{WORKFLOW}", {**body, "reason": "tuning"}, scopes=WRITE_CATALOG)
    assert response.status == 400 and problem_type(response) == "validation-error", response
    assert path in [error["path"] for error in response.json["errors"]], response.json
    assert catalog_snapshot(db) == before


def test_a_key_beyond_the_workflows_limits_cannot_set_clear_or_close(client: ApiClient, db: Database) -> None:
    create_workflow(client)  # owned by the API: beyond any limited key
    assert set_guards(client, cooldown_seconds=0).status == 200
    for on in (CHECKOUT, CHECKOUT, CHECKOUT, target("a"), target("b")):  # a streak, and the circuit opens
        run(client, on, "failed")
    assert workflow_read(client)["circuit"]["state"] == "open"
    limited = bearer("catalog:write", "catalog:read", namespaces=["shop"])
    before = table_rows(db)
    for method, path, body in (
        ("PATCH", f"{PLAYBOOKS}/{WORKFLOW}", {"guards": {"max_concurrent": 1000}, "reason": "mine now"}),
        ("PATCH", f"{PLAYBOOKS}/{WORKFLOW}", {"circuit": "closed", "reason": "looks fine to me"}),
        ("POST", f"{PLAYBOOKS}/{WORKFLOW}/guards/clear", {"target": CHECKOUT, "reason": "looks fine to me"}),
    ):
        response = client.request(method, path, body, scopes=None, headers=limited)
        assert response.status == 403 and problem_type(response) == "forbidden", response
        assert "owned by the REST API" in response.json["detail"]
    assert table_rows(db) == before

    # Once the workflow is owned within the key's limits, it may; but never on a target beyond its namespaces.
    owner = {"owner": {"kind": "resource", "cluster": "default", "namespace": "shop"}, "reason": "moved to shop"}
    assert client.patch(f"{PLAYBOOKS}/{WORKFLOW}", owner, scopes=("admin",)).status == 200
    assert client.request("PATCH", f"{PLAYBOOKS}/{WORKFLOW}", {"guards": {"max_concurrent": 5}, "reason": "shop's"},
                          scopes=None, headers=limited).status == 200
    before = table_rows(db)
    elsewhere = client.request("POST", f"{PLAYBOOKS}/{WORKFLOW}/guards/clear",
                               {"target": target("checkout", "payments"), "reason": "not mine"},
                               scopes=None, headers=limited)
    assert elsewhere.status == 403 and "namespace 'payments'" in elsewhere.json["detail"], elsewhere
    assert table_rows(db) == before
    assert client.request("POST", f"{PLAYBOOKS}/{WORKFLOW}/guards/clear", {"target": CHECKOUT, "reason": "fixed"},
                          scopes=None, headers=limited).json["cleared"] is True


def test_clearing_needs_catalog_write_and_a_known_workflow(client: ApiClient, db: Database) -> None:
    create_workflow(client)
    client.token("executions:write")  # its key exists before the rows are compared
    before = table_rows(db)
    assert clear(client, CHECKOUT, scopes=("executions:write",)).status == 403
    assert clear(client, CHECKOUT, reason=" ").status == 400
    assert client.post(f"{PLAYBOOKS}/no-such-workflow/guards/clear", {"target": CHECKOUT, "reason": "x"},
                       scopes=WRITE_CATALOG).status == 404
    bad_target = clear(client, {"kind": "Deployment"})
    assert bad_target.status == 400 and "$.target.name" in [e["path"] for e in bad_target.json["errors"]]
    assert table_rows(db) == before


# --- configuration, vocabulary, logs -----------------------------------------------------------------------------
def test_defaults_come_from_configuration_within_the_settings_bounds() -> None:
    assert load_settings({}).guard_defaults == DEFAULTS
    env = {"DEFAULT_COOLDOWN_SECONDS": "60", "DEFAULT_MAX_CONSECUTIVE_FAILURES": "5",
           "DEFAULT_MAX_EXECUTIONS_PER_HOUR": "100", "DEFAULT_MAX_CONCURRENT": "4"}
    assert load_settings(env).guard_defaults == GuardSettings(60, 5, 100, 4)
    for name, bad in (("DEFAULT_COOLDOWN_SECONDS", "-1"), ("DEFAULT_COOLDOWN_SECONDS", "604801"),
                      ("DEFAULT_MAX_CONSECUTIVE_FAILURES", "0"), ("DEFAULT_MAX_EXECUTIONS_PER_HOUR", "lots"),
                      ("DEFAULT_MAX_CONCURRENT", "1001")):
        with pytest.raises(ConfigError, match=name):
            load_settings({name: bad})


@pytest.fixture
def one_at_a_time(db: Database) -> Iterator[None]:
    """The services as a process started with DEFAULT_MAX_CONCURRENT=1 builds them (same database)."""
    with services_started_with(DEFAULT_MAX_CONCURRENT="1"):
        yield


def test_a_configured_default_applies_to_workflows_without_their_own(client: ApiClient, one_at_a_time: None) -> None:
    create_workflow(client)
    assert workflow_read(client)["guards"]["max_concurrent"] == 1
    started(client, target=target("a"))
    assert problem_type(start(client, target=target("b"))) == "rate-limited"
    assert set_guards(client, max_concurrent=2).status == 200  # the workflow's own setting wins
    assert start(client, target=target("b")).status == 201


def test_the_database_holds_the_domains_guard_vocabulary_and_bounds(client: ApiClient, db: Database) -> None:
    create_workflow(client)

    class Accepted(Exception):
        """Rolls the checked statement back."""

    def accepted(statement: str, *values: Any) -> bool:
        try:
            with db.transaction() as cur:
                cur.execute(statement, values)
                raise Accepted
        except Accepted:
            return True
        except psycopg2.IntegrityError:
            return False

    for name, (low, high) in GUARD_SETTING_BOUNDS.items():
        update = f"UPDATE workflows SET {name} = %s WHERE workflow_id = %s"
        assert accepted(update, low, WORKFLOW) and accepted(update, high, WORKFLOW)
        assert not accepted(update, low - 1, WORKFLOW) and not accepted(update, high + 1, WORKFLOW)
    insert = """INSERT INTO status_changes (workflow_id, field, from_value, to_value, reason, changed_by)
                VALUES (%s, %s, NULL, %s, 'test', 'test')"""
    for field in HISTORY_FIELDS:
        assert accepted(insert, WORKFLOW, field, "open" if field == "circuit" else "1")
    assert not accepted(insert, WORKFLOW, "circuit", "half-open")
    assert not accepted(insert, WORKFLOW, "retries", "1")


def test_every_refusal_is_logged_with_the_workflow_the_guard_and_the_target(client: ApiClient,
                                                                             service_log: io.StringIO) -> None:
    create_workflow(client)
    run(client, CHECKOUT, "succeeded")
    assert start(client, target=CHECKOUT).status == 409
    [line] = [json.loads(line) for line in service_log.getvalue().splitlines()
              if "refused by a guard" in line]
    assert line["workflow_id"] == WORKFLOW and line["guard"] == "recently-remediated"
    assert line["target"] == "Deployment shop/checkout" and line["guards"] == ["recently-remediated"]
    assert line["level"] == "WARNING" and "TARGET_NAMESPACE" not in str(line)
