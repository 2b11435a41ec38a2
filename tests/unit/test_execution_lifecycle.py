"""The execution lifecycle is stated once in the domain; the contract, the SQL and the migration agree with it."""

from __future__ import annotations

import re

import pytest

from chalicelib.domain.contracts import EXECUTIONS_QUERY
from chalicelib.domain.errors import InvalidTransition
from chalicelib.domain.executions import (
    ACTIVE,
    EXECUTION_STATUSES,
    TERMINAL,
    TRANSITIONS,
    WAITING,
    check_execution_transition,
)
from chalicelib.stores.execution_store import ACTIVE_SQL
from tests.support.paths import ROOT

MIGRATION = (ROOT / "chalicelib/stores/migrations/008_execution_safety.sql").read_text()


def quoted(text: str) -> list[str]:
    return re.findall(r"'([a-z_]+)'", text)


def test_the_list_filter_and_the_target_index_name_the_domains_states() -> None:
    """(The CHECK constraints: tests/integration/test_vocabularies.py.)"""
    assert EXECUTIONS_QUERY.schema["properties"]["status"]["enum"] == list(EXECUTION_STATUSES)
    index = MIGRATION.split("CREATE UNIQUE INDEX executions_one_active_per_target", 1)[1].split(";")[0]
    assert quoted(index.split("WHERE", 1)[1]) == list(ACTIVE) == quoted(ACTIVE_SQL)


def test_active_states_are_exactly_those_that_can_still_move() -> None:
    assert set(ACTIVE) == {status for status in EXECUTION_STATUSES if TRANSITIONS[status]}
    assert set(ACTIVE) | TERMINAL == set(EXECUTION_STATUSES) and not set(ACTIVE) & TERMINAL
    assert set(WAITING) == {status for status in ACTIVE if "expired" in TRANSITIONS[status]}


@pytest.mark.parametrize(("current", "target", "allowed"), [
    ("awaiting_approval", "approved", True),
    ("awaiting_approval", "pending", False),  # start before approval
    ("awaiting_approval", "running", False),
    ("approved", "pending", True),
    ("approved", "approved", False),
    ("pending", "pending", False),  # start twice
    ("rejected", "approved", False),
    ("expired", "pending", False),
    ("succeeded", "failed", False),
])
def test_transitions(current: str, target: str, allowed: bool) -> None:
    if allowed:
        check_execution_transition("e", current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_execution_transition("e", current, target)


RUNNER_MIGRATION = (ROOT / "chalicelib/stores/migrations/016_runner.sql").read_text()


def test_the_catalogs_reasons_and_the_target_index_of_migration_016_are_the_domains() -> None:
    """(The reason's CHECK: tests/integration/test_vocabularies.py.)"""
    from chalicelib.domain.executions import _CATALOG_REASON_FORM, EXECUTION_REASONS
    from chalicelib.stores.execution_store import TARGET_KEY_SQL

    assert all(_CATALOG_REASON_FORM.fullmatch(reason) for reason in EXECUTION_REASONS)
    index = RUNNER_MIGRATION.split("CREATE UNIQUE INDEX executions_one_active_per_target", 1)[1].split(";")[0]
    assert index.split("ON executions ", 1)[1].split("\n")[0].strip() == TARGET_KEY_SQL
    assert quoted(index.split("WHERE", 1)[1]) == list(ACTIVE)


@pytest.mark.parametrize(("text", "valid"), [
    ("2026-03-01T10:00:00Z", True), ("2026-03-01t10:00:00z", True), ("2026-03-01T10:00:00.123456789+02:00", True),
    ("2026-03-01T10:00:00-05:30", True), ("2026-03-01 10:00:00Z", False), ("2026-03-01T10:00Z", False),
    ("2026-03-01T10:00:00", False), ("2026-03-01T10:00:00Z\n", False), ("2026-13-01T10:00:00Z", False),
    ("2026-03-01T10:00:00+0200", False), ("yesterday", False), ("", False), ("２０２６-03-01T10:00:00Z", False),
])
def test_reported_times_are_rfc3339_with_seconds_and_a_zone(text: str, valid: bool) -> None:
    from chalicelib.domain.timestamps import parse_rfc3339

    if valid:
        assert parse_rfc3339(text).utcoffset() is not None
    else:
        with pytest.raises(ValueError):
            parse_rfc3339(text)


def test_pending_may_end_at_once_and_nothing_leaves_a_final_state() -> None:
    for status in ("running", "succeeded", "failed"):
        check_execution_transition("e", "pending", status)
    for final in TERMINAL:
        with pytest.raises(InvalidTransition):
            check_execution_transition("e", final, "running")
