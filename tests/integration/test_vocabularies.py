"""Every SQL CHECK constraint of the migrated database holds the domain's vocabularies (domain/vocabularies.py), and
the domain's bounds and patterns: read from PostgreSQL's own catalog (pg_constraint), so a migration that lists a
value the domain does not have, or misses one it has, fails here. One test for every vocabulary: a new CHECK must be
added to ``EXPECTED`` (or ``NOT_VOCABULARIES``, with its reason), else the test names it."""

from __future__ import annotations

import re
from collections.abc import Collection

from chalicelib.domain.contracts import DEFS
from chalicelib.domain.executions import _CATALOG_REASON_FORM, TERMINAL, WAITING
from chalicelib.domain.limits import ALERT_FINGERPRINT_PATTERN, CLUSTER_NAME_PATTERN, GUARD_SETTING_BOUNDS
from chalicelib.domain.vocabularies import (
    AlertStatus,
    CircuitState,
    DeliveryStatus,
    ExecutionReason,
    ExecutionStatus,
    HistoryField,
    NotificationChannel,
    NotificationType,
    OwnerKind,
    RecommendationStatus,
    RegistrationStatus,
    ResourceEventType,
    Verdict,
    WorkflowStatus,
)
from chalicelib.stores.db import Database

# (table, constraint) -> the values its string literals must be (a whole vocabulary, or the states a rule names).
EXPECTED: dict[tuple[str, str], Collection[str]] = {
    ("alert_episodes", "alert_episodes_status_check"): list(AlertStatus),
    ("alert_episodes", "alert_episodes_check"): [AlertStatus.FIRING],  # only a firing episode has no end
    ("executions", "executions_status_check"): list(ExecutionStatus),
    ("executions", "executions_finished_when_terminal"): TERMINAL,
    ("executions", "executions_check1"): [ExecutionStatus.RUNNING],  # running has started
    ("executions", "executions_clear_marks_a_failure"): [ExecutionStatus.FAILED],
    ("executions", "executions_waiting_has_deadline"): WAITING,
    ("executions", "executions_waiting_only_when_required"): WAITING,
    ("executions", "executions_reason_check"): list(ExecutionReason),
    ("executions", "executions_effectiveness_check"): list(Verdict),
    ("executions", "executions_effectiveness_of_a_success"): [ExecutionStatus.SUCCEEDED],  # only a success is judged
    ("notifications", "notifications_event_type_check"): list(NotificationType),
    ("notification_deliveries", "notification_deliveries_channel_check"): list(NotificationChannel),
    ("notification_deliveries", "notification_deliveries_status_check"): list(DeliveryStatus),
    ("notification_deliveries", "notification_deliveries_check"): [DeliveryStatus.PENDING],
    ("recommendations", "recommendations_status_check"): list(RecommendationStatus),
    ("recommendations", "recommendations_check"): [RecommendationStatus.ACCEPTED],  # accepted links a workflow
    ("registrations", "registrations_status_check"): list(RegistrationStatus),
    ("registrations", "registrations_check"): [RegistrationStatus.SUCCEEDED, RegistrationStatus.FAILED],
    ("registrations", "registrations_lease_when_running"): [RegistrationStatus.RUNNING],
    ("registrations", "registrations_event_check"): list(ResourceEventType),
    ("status_changes", "status_changes_field_check"): list(HistoryField),
    ("status_changes", "status_changes_circuit_states"): [HistoryField.CIRCUIT, *CircuitState],
    ("workflow_versions", "workflow_versions_status_check"): list(WorkflowStatus),
    ("workflows", "workflows_owner_kind_check"): list(OwnerKind),
    ("workflows", "workflows_owner_complete"): [OwnerKind.RESOURCE],  # a resource owner has a cluster
}
# Regular expressions a CHECK applies (``~`` or ``!~``): the domain's patterns.
PATTERNS = {
    ("alerts", "alerts_fingerprint_check"): ALERT_FINGERPRINT_PATTERN,
    ("executions", "executions_target_cluster_check"): CLUSTER_NAME_PATTERN,
    ("executions", "executions_reason_check"): f"^{_CATALOG_REASON_FORM.pattern}$",  # a runner's reason never so
}
# CHECKs with a string literal that is no vocabulary of ours.
NOT_VOCABULARIES = {
    ("notifications", "notifications_data_check"): "jsonb_typeof(data) = 'object': PostgreSQL's type name",
}
LITERAL = re.compile(r"(!?~ )?'((?:[^']|'')*)'::text")
BETWEEN = re.compile(r"\((\w+) >= (\d+)\) AND \(\1 <= (\d+)\)")


def test_every_check_constraint_holds_the_domains_vocabularies_bounds_and_patterns(db: Database) -> None:
    with db.reading() as tx:
        tx.execute("""SELECT conrelid::regclass::text AS "table", conname AS name,
                             pg_get_constraintdef(oid) AS definition
                      FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace""")
        constraints = {(row["table"], row["name"]): row["definition"] for row in tx.fetchall()}
    unchecked = []
    for key, definition in sorted(constraints.items()):
        literals = [(operator, text.replace("''", "'")) for operator, text in LITERAL.findall(definition)]
        values = [text for operator, text in literals if not operator]
        patterns = [text for operator, text in literals if operator]
        if key in NOT_VOCABULARIES:
            continue
        if values:
            assert key in EXPECTED, f"{key}: {definition} lists values; hold them to a domain vocabulary here"
            assert len(values) == len(set(values)) and set(values) == set(EXPECTED[key]), (key, definition)
        elif key in EXPECTED:
            unchecked.append(key)
        assert patterns == ([PATTERNS[key]] if key in PATTERNS else []), (key, definition)
        bounds = BETWEEN.search(definition)
        if bounds and bounds.group(1) in GUARD_SETTING_BOUNDS:
            assert GUARD_SETTING_BOUNDS[bounds.group(1)] == (int(bounds.group(2)), int(bounds.group(3))), key
    assert not unchecked, f"these constraints no longer list values: {unchecked}"
    assert set(EXPECTED) | set(PATTERNS) | set(NOT_VOCABULARIES) <= set(constraints), "a constraint named here is gone"
    settings = {name for table, name in constraints if table == "workflows" and name.endswith("_check")}
    assert {f"workflows_{name}_check" for name in GUARD_SETTING_BOUNDS} <= settings


def test_the_contracts_name_the_same_vocabularies() -> None:
    """The request contracts take their enums from the vocabularies (the OpenAPI document and the MCP tools derive
    from the contracts; tests/integration/test_openapi.py and the response validation hold the rest)."""
    from chalicelib.domain import contracts

    assert contracts.EXECUTIONS_QUERY.schema["properties"]["status"]["enum"] == list(ExecutionStatus)
    assert contracts.LIST_WORKFLOWS_QUERY.schema["properties"]["status"]["enum"] == list(WorkflowStatus)
    assert contracts.RECOMMENDATIONS_QUERY.schema["properties"]["status"]["enum"] == list(RecommendationStatus)
    assert contracts.REGISTRATION_EVENT.schema["properties"]["event"]["enum"] == list(ResourceEventType)
    assert DEFS["Owner"]["properties"]["kind"]["enum"] == list(OwnerKind)
    notification = contracts.ALERTMANAGER_NOTIFICATION.schema["properties"]
    assert notification["status"]["enum"] == notification["alerts"]["items"]["properties"]["status"]["enum"] == [
        AlertStatus.FIRING, AlertStatus.RESOLVED]
