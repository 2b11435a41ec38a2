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


def test_the_list_filter_the_status_check_and_the_target_index_name_the_domains_states() -> None:
    assert EXECUTIONS_QUERY.schema["properties"]["status"]["enum"] == list(EXECUTION_STATUSES)
    status_check = MIGRATION.split("ADD CONSTRAINT executions_status_check CHECK (status IN (", 1)[1].split(")")[0]
    assert quoted(status_check) == list(EXECUTION_STATUSES)
    index = MIGRATION.split("CREATE UNIQUE INDEX executions_one_active_per_target", 1)[1].split(";")[0]
    assert quoted(index.split("WHERE", 1)[1]) == list(ACTIVE) == quoted(ACTIVE_SQL)
    finished = MIGRATION.split("executions_finished_when_terminal", 1)[1].split("=")[0]
    assert set(quoted(finished)) == TERMINAL


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
