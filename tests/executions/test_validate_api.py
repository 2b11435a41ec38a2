"""POST /api/v1/playbooks/{id}/versions/{version}/validate: the parameter truth table, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import ApiClient
from tests.support.executions import PLAYBOOKS, READ, create_kitchen, create_workflow, problem_type

VALIDATE = f"{PLAYBOOKS}/kitchen-sink/versions/1.0.0/validate"
OK = {"NAME": "abc"}

# (parameters, paths of the expected errors); an empty set means valid.
TRUTH_TABLE: list[tuple[dict[str, Any], set[str]]] = [
    (OK, set()),
    ({"NAME": "abc", "COUNT": 5, "RATIO": 1, "MODE": "fast", "DRY_RUN": True, "CHANNEL": "c", "TOKEN": "12345678"},
     set()),
    ({"NAME": "abc", "COUNT": 3.0}, set()),  # 3.0 is an integer in JSON Schema
    ({}, {"$.parameters.NAME"}),  # required
    ({"NAME": 7}, {"$.parameters.NAME"}),  # type
    ({"NAME": "ABC"}, {"$.parameters.NAME"}),  # pattern
    ({"NAME": "a"}, {"$.parameters.NAME"}),  # minLength
    ({"NAME": "abcdefghijk"}, {"$.parameters.NAME"}),  # maxLength
    ({"NAME": "abc", "COUNT": 0}, {"$.parameters.COUNT"}),  # minimum
    ({"NAME": "abc", "COUNT": 6}, {"$.parameters.COUNT"}),  # maximum
    ({"NAME": "abc", "COUNT": 2.5}, {"$.parameters.COUNT"}),  # integer type
    ({"NAME": "abc", "COUNT": "3"}, {"$.parameters.COUNT"}),  # no coercion of strings
    ({"NAME": "abc", "COUNT": True}, {"$.parameters.COUNT"}),  # a boolean is not an integer
    ({"NAME": "abc", "RATIO": 0}, {"$.parameters.RATIO"}),  # exclusiveMinimum
    ({"NAME": "abc", "RATIO": 1.5}, {"$.parameters.RATIO"}),  # maximum
    ({"NAME": "abc", "MODE": "slow"}, {"$.parameters.MODE"}),  # enum
    ({"NAME": "abc", "DRY_RUN": "true"}, {"$.parameters.DRY_RUN"}),  # boolean type
    ({"NAME": "abc", "CHANNEL": "c"}, {"$.parameters.TOKEN"}),  # dependentRequired
    ({"NAME": "abc", "TOKEN": "short"}, {"$.parameters.TOKEN"}),  # minLength on a writeOnly value
    ({"NAME": "abc", "TOKEN": "***"}, {"$.parameters.TOKEN"}),  # a redacted value fed back
    ({"NAME": "abc", "PASSWORD": "x"}, {"$.parameters.PASSWORD"}),  # undeclared (hallucinated)
    ({"name": "abc"}, {"$.parameters.name", "$.parameters.NAME"}),  # names are case-sensitive
    ({"NAME": None}, {"$.parameters.NAME"}),
    ({"NAME": ["abc"]}, {"$.parameters.NAME"}),
    ({"NAME": "ABC", "COUNT": 9, "X": 1, "CHANNEL": 5},
     {"$.parameters.NAME", "$.parameters.COUNT", "$.parameters.X", "$.parameters.CHANNEL", "$.parameters.TOKEN"}),
]


@pytest.fixture
def kitchen(client: ApiClient) -> None:
    create_kitchen(client)


@pytest.mark.usefixtures("kitchen")
@pytest.mark.parametrize(("parameters", "error_paths"), TRUTH_TABLE, ids=[str(i) for i in range(len(TRUTH_TABLE))])
def test_truth_table(client: ApiClient, parameters: dict[str, Any], error_paths: set[str]) -> None:
    response = client.post(VALIDATE, {"parameters": parameters}, scopes=READ)
    assert response.status == 200, response
    report = response.json
    assert report["valid"] is (not error_paths)
    assert {e["path"] for e in report["errors"]} == error_paths
    assert all(e["message"] for e in report["errors"])


@pytest.mark.usefixtures("kitchen")
def test_text_that_cannot_be_an_environment_variable_is_a_400_naming_it(client: ApiClient) -> None:
    response = client.post(VALIDATE, {"parameters": {"NAME": "ab\u0000c"}}, scopes=READ)
    assert response.status == 400
    assert [e["path"] for e in response.json["errors"]] == ["$.parameters.NAME"]


@pytest.mark.usefixtures("kitchen")
def test_defaults_are_applied_and_write_only_values_are_not_echoed(client: ApiClient) -> None:
    report = client.post(VALIDATE, {"parameters": {"NAME": "abc", "CHANNEL": "c", "TOKEN": "s3cr3t-v4lue"}},
                         scopes=READ).json
    assert report == {"valid": True, "errors": [],
                      "parameters": {"NAME": "abc", "CHANNEL": "c", "TOKEN": "***", "COUNT": 2, "DRY_RUN": False},
                      "redacted": ["TOKEN"]}


@pytest.mark.usefixtures("kitchen")
def test_errors_say_what_to_do_without_quoting_values(client: ApiClient) -> None:
    secret = "hunter2hunter2"
    # NAME within its maxLength: a value over it gets the length error alone (its pattern is not run on it).
    report = client.post(VALIDATE, {"parameters": {"NAME": secret.upper()[:8], "TOKEN": 12345678, "COUNT": 99,
                                                   "MODE": secret, "CHANNEL": "x"}}, scopes=READ).json
    messages = {e["path"]: e["message"] for e in report["errors"]}
    assert messages["$.parameters.NAME"] == "must match the pattern ^[a-z]+$"
    assert messages["$.parameters.COUNT"] == "must satisfy maximum 5"
    assert messages["$.parameters.MODE"] == 'must be one of ["fast", "safe"]'
    assert messages["$.parameters.TOKEN"] == "must be of type string"
    assert secret not in str(report["errors"]).lower()


def test_undeclared_parameter_of_a_schema_without_additional_properties_is_an_error(client: ApiClient) -> None:
    schema = {"type": "object", "properties": {"A": {"type": "string", "description": "d"}}}  # absent = false
    create_workflow(client, "loose", parameters=schema)
    report = client.post(f"{PLAYBOOKS}/loose/versions/1.0.0/validate", {"parameters": {"A": "x", "B": "y"}},
                         scopes=READ).json
    assert report["valid"] is False and [e["path"] for e in report["errors"]] == ["$.parameters.B"]
    assert report["parameters"] == {"A": "x"}  # undeclared names are stripped, never passed on


def test_any_status_can_be_validated_and_v_prefix_is_accepted(client: ApiClient) -> None:
    create_kitchen(client, "2.0.0", status="draft")
    response = client.post(f"{PLAYBOOKS}/kitchen-sink/versions/v2.0.0/validate", {"parameters": OK}, scopes=READ)
    assert response.status == 200 and response.json["valid"] is True


@pytest.mark.usefixtures("kitchen")
@pytest.mark.parametrize("path", [
    f"{PLAYBOOKS}/nope/versions/1.0.0/validate",
    f"{PLAYBOOKS}/kitchen-sink/versions/9.9.9/validate",
    f"{PLAYBOOKS}/kitchen-sink/versions/not-semver/validate",
    f"{PLAYBOOKS}/Bad_Id/versions/1.0.0/validate",
])
def test_unknown_workflow_or_version_is_404(client: ApiClient, path: str) -> None:
    response = client.post(path, {"parameters": OK}, scopes=READ)
    assert response.status == 404 and problem_type(response) == "not-found"


@pytest.mark.usefixtures("kitchen")
@pytest.mark.parametrize("body", [{"parameters": ["NAME"]}, {"parameters": "NAME=abc"}, {"params": {}}])
def test_malformed_body_is_400_problem(client: ApiClient, body: Any) -> None:
    response = client.post(VALIDATE, body, scopes=READ)
    assert response.status == 400 and problem_type(response) == "validation-error"
    assert response.json["errors"]


@pytest.mark.usefixtures("kitchen")
def test_not_json_and_scope(client: ApiClient) -> None:
    response = client.request("POST", VALIDATE, scopes=READ, body=b"{nope",
                              headers={"Content-Type": "application/json"})
    assert response.status == 400 and problem_type(response) == "validation-error"
    assert client.post(VALIDATE, {"parameters": OK}, scopes=None).status == 401
    assert client.post(VALIDATE, {"parameters": OK}, scopes=("executions:write",)).status == 403
