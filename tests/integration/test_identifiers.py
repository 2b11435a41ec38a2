"""Identifiers mean what they say: a newline or another control character in any identifier or target field is a
400, and nothing is written (every table compared before and after)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import ApiClient, Result
from tests.support.catalog import workflow
from tests.support.database import table_rows
from tests.support.executions import create_workflow, incident, stuck_parameters

PATCHES = itertools.count()
CONTROL = ["\n", "\r\n", "\t", "\x1e", "\x7f", "\x85", "\u2028"]
PLAYBOOKS, EXECUTIONS, KEYS = "/api/v1/playbooks", "/api/v1/executions", "/api/v1/api-keys"


def new_version(change: Callable[[dict[str, Any]], None]) -> Callable[[ApiClient], Result]:
    def send(client: ApiClient) -> Result:
        body = workflow(f"2.0.{next(PATCHES)}")
        change(body)
        return client.post(PLAYBOOKS, body)
    return send


def execution(change: Callable[[dict[str, Any]], None]) -> Callable[[ApiClient], Result]:
    def send(client: ApiClient) -> Result:
        body = {"workflow_id": "stuck-rollout-restart", "parameters": stuck_parameters(), "incident": incident(),
                "target": {"kind": "Deployment", "namespace": "shop", "name": "checkout"}}
        change(body)
        return client.post(EXECUTIONS, body, scopes=("executions:write",))
    return send


def api_key(change: Callable[[dict[str, Any]], None]) -> Callable[[ApiClient], Result]:
    def send(client: ApiClient) -> Result:
        body: dict[str, Any] = {"name": "watcher", "scopes": ["registrations:write"], "namespaces": ["shop"]}
        change(body)
        return client.post(KEYS, body)
    return send


def rename_parameter(body: dict[str, Any], suffix: str) -> None:
    schema = body["parameters"]
    schema["properties"][f"TARGET_NAMESPACE{suffix}"] = schema["properties"].pop("TARGET_NAMESPACE")
    schema["required"] = [f"TARGET_NAMESPACE{suffix}" if n == "TARGET_NAMESPACE" else n for n in schema["required"]]


FIELDS: dict[str, Callable[[str], Callable[[ApiClient], Result]]] = {
    "workflow_id": lambda c: new_version(lambda b: b.update(workflow_id=f"oomkill-increase-memory{c}")),
    "version": lambda c: new_version(lambda b: b.update(version=f"2.0.0{c}")),
    "parameter name": lambda c: new_version(lambda b: rename_parameter(b, c)),
    "label key": lambda c: new_version(lambda b: b["labels"].update({f"team{c}": "payments"})),
    "label value": lambda c: new_version(lambda b: b["labels"].update(component=f"deployment{c}")),
    "label list value": lambda c: new_version(lambda b: b["labels"].update(severity=["critical", f"high{c}"])),
    "target.namespace": lambda c: execution(lambda b: b["target"].update(namespace=f"shop{c}")),
    "target.name": lambda c: execution(lambda b: b["target"].update(name=f"checkout{c}")),
    "target.kind": lambda c: execution(lambda b: b["target"].update(kind=f"Deployment{c}")),
    "target.cluster": lambda c: execution(lambda b: b["target"].update(cluster=f"prod-eu{c}")),
    "incident.id": lambda c: execution(lambda b: b["incident"].update(id=f"INC-1042{c}")),
    "incident.signal_type": lambda c: execution(lambda b: b["incident"].update(signal_type=f"DeploymentRolloutStuck{c}")),
    "incident label": lambda c: execution(lambda b: b["incident"].update(severity=f"high{c}")),
    "business context": lambda c: execution(lambda b: b["incident"]["business_context"].update(
        business_category=f"payments{c}")),
    "key name": lambda c: api_key(lambda b: b.update(name=f"watcher{c}")),
    "key namespace": lambda c: api_key(lambda b: b.update(namespaces=[f"shop{c}"])),
    "key cluster": lambda c: api_key(lambda b: b.update(cluster=f"prod-eu{c}")),
}


@pytest.mark.parametrize("control", CONTROL, ids=[repr(c) for c in CONTROL])
@pytest.mark.parametrize("field", FIELDS)
def test_a_control_character_in_an_identifier_is_refused_and_writes_nothing(
        client: ApiClient, db: Any, field: str, control: str) -> None:
    create_workflow(client)
    client.post(PLAYBOOKS, workflow("1.0.0"))
    client.token("executions:write")  # the test's own keys exist before the snapshot
    before = table_rows(db)
    response = FIELDS[field](control)(client)
    assert response.status == 400, (field, response)
    assert response.json["type"].endswith("/validation-error")
    assert table_rows(db) == before


def test_the_same_requests_without_the_control_character_are_accepted(client: ApiClient) -> None:
    """The variants above differ from a good request by the control character only."""
    create_workflow(client)
    client.post(PLAYBOOKS, workflow("1.0.0"))
    for field, request in FIELDS.items():
        if field != "version":
            answer = request("")(client)  # the same target again is busy, which is not a validation error
            assert answer.status in (200, 201) or answer.json["type"].endswith("/target-busy"), (field, answer)


def test_a_namespace_with_a_newline_no_longer_passes_the_one_active_execution_rule(client: ApiClient, db: Any) -> None:
    create_workflow(client)
    first = execution(lambda b: b["target"].update(namespace="payments"))(client)
    assert first.status == 201, first
    before = table_rows(db)
    for variant in ("payments\n", "payments\r\n", " payments", "Payments"):
        again = execution(lambda b, v=variant: b["target"].update(namespace=v))(client)
        assert again.status == 400, (variant, again)
    busy = execution(lambda b: b["target"].update(namespace="payments"))(client)
    assert (busy.status, busy.json["type"].rsplit("/", 1)[-1]) == (409, "target-busy")
    assert table_rows(db) == before


def test_a_pattern_checked_parameter_value_with_a_trailing_newline_is_not_valid(client: ApiClient) -> None:
    client.post(PLAYBOOKS, workflow("1.0.0"))
    path = f"{PLAYBOOKS}/oomkill-increase-memory/versions/1.0.0/validate"
    good = {"TARGET_NAMESPACE": "payments", "TARGET_DEPLOYMENT": "payments-api", "MEMORY_LIMIT": "512Mi"}
    assert client.post(path, {"parameters": good}).json["valid"] is True
    answer = client.post(path, {"parameters": {**copy.deepcopy(good), "MEMORY_LIMIT": "512Mi\n"}}).json
    assert answer["valid"] is False and [e["path"] for e in answer["errors"]] == ["$.parameters.MEMORY_LIMIT"]
