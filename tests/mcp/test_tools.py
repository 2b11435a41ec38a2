"""The MCP tools are the REST routes: the same contracts as inputSchema, the same scopes, the same bodies as
structuredContent, the same problems as isError results, in both protocol eras; descriptions a model can act on."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chalicelib.domain import contracts
from tests.support.api import ApiClient, Result
from tests.support.catalog import create
from tests.support.executions import SECRET, create_kitchen
from tests.support.logs import captured_logs
from tests.support.mcp import execution, legacy, modern, tool_result
from tests.support.recommendations import recommendation

TOOLS = {"search_workflows", "get_workflow", "validate_parameters", "start_execution", "get_execution",
         "recommend_workflow"}
WORKFLOW = "oomkill-increase-memory"
GOOD = {"TARGET_NAMESPACE": "payments", "TARGET_DEPLOYMENT": "payments-api", "MEMORY_LIMIT": "512Mi"}
INCIDENT = {"id": "INC-7", "signal_type": "OOMKilled", "severity": "critical"}

Send = Callable[..., Result]
ERAS = [pytest.param(functools.partial(legacy, version="2025-06-18"), id="2025-06-18"),
        pytest.param(legacy, id="2025-11-25"), pytest.param(modern, id="2026-07-28")]


def listed(client: ApiClient, send: Send, scopes: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    response = send(client, "tools/list", **({"scopes": scopes} if scopes else {}))
    return {tool["name"]: tool for tool in tool_result(response)["tools"]}


def call(client: ApiClient, send: Send, name: str, arguments: Any, **kwargs: Any) -> dict[str, Any]:
    return tool_result(send(client, "tools/call", {"name": name, "arguments": arguments}, **kwargs))


def with_path(contract: contracts.Contract, *names: str) -> dict[str, Any]:
    """The route's body contract with its path parameters added, as the tool must declare it."""
    schema = dict(contract.schema)
    schema["properties"] = {**{n: contracts.PATH_PARAMETERS[n].schema for n in names}, **schema["properties"]}
    schema["required"] = [*names, *schema.get("required", [])]
    return contracts.published(contracts.Contract("expected", schema).json_schema)


@pytest.mark.parametrize("send", ERAS)
def test_the_input_schemas_are_the_contracts_the_routes_validate_with(client: ApiClient, send: Send) -> None:
    tools = listed(client, send)
    assert set(tools) == TOOLS
    assert tools["search_workflows"]["inputSchema"] == contracts.published(contracts.SEARCH_REQUEST.json_schema)
    assert tools["start_execution"]["inputSchema"] == contracts.published(contracts.EXECUTION_REQUEST.json_schema)
    assert tools["recommend_workflow"]["inputSchema"] == contracts.published(contracts.NEW_RECOMMENDATION.json_schema)
    assert tools["validate_parameters"]["inputSchema"] == with_path(contracts.VALIDATE_REQUEST, "workflow_id", "version")
    get_workflow = tools["get_workflow"]["inputSchema"]
    assert get_workflow["properties"] == {"workflow_id": {"$ref": "#/$defs/WorkflowId"}}
    assert get_workflow["$defs"] == {"WorkflowId": contracts.published(contracts.DEFS["WorkflowId"])}
    assert get_workflow["required"] == ["workflow_id"] and get_workflow["additionalProperties"] is False
    for tool in tools.values():
        Draft202012Validator.check_schema(tool["inputSchema"])
        assert tool["inputSchema"]["type"] == "object"


PORTABLE_KEYWORDS = {
    "type", "description", "properties", "required", "additionalProperties", "items", "enum", "const", "default",
    "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties", "propertyNames", "anyOf", "$ref", "$defs", "not",
}


def portability_problems(node: Any, where: str) -> list[str]:
    """What keeps a tool input schema out of the subset function-calling clients accept: a list of types (an
    open-ended union), a schema without one type (other than a reference or an anyOf of typed branches),
    composition other than anyOf, keywords outside the subset (x- wording included)."""
    if not isinstance(node, dict):
        return [f"{where}: a boolean schema"] if node is not False or not where.endswith("additionalProperties") \
            else []
    problems = [f"{where}: keyword {key}" for key in node if key not in PORTABLE_KEYWORDS]
    kind = node.get("type")
    if isinstance(kind, list):
        problems.append(f"{where}: type is a list {kind}")
    elif kind is None and "$ref" not in node and "anyOf" not in node and not where.endswith(".not"):
        problems.append(f"{where}: no type")
    for key in ("properties", "$defs"):
        for name, sub in node.get(key, {}).items():
            problems += portability_problems(sub, f"{where}.{key}.{name}")
    for key in ("items", "additionalProperties", "propertyNames", "not"):
        if key in node:
            problems += portability_problems(node[key], f"{where}.{key}")
    for index, branch in enumerate(node.get("anyOf", [])):
        problems += portability_problems(branch, f"{where}.anyOf[{index}]")
        if not isinstance(branch, dict) or not isinstance(branch.get("type"), str):
            problems.append(f"{where}.anyOf[{index}]: a branch without one type")
    return problems


def test_every_tool_input_schema_keeps_to_the_portable_subset(client: ApiClient) -> None:
    tools = listed(client, legacy)
    problems = [problem for name, tool in sorted(tools.items())
                for problem in portability_problems(tool["inputSchema"], name)]
    assert problems == []
    # The check itself: the forms strict clients refuse are found.
    assert portability_problems({"type": ["string", "array"]}, "x") == ["x: type is a list ['string', 'array']"]
    assert portability_problems({"allOf": [{"type": "object"}]}, "x") == ["x: keyword allOf", "x: no type"]
    assert portability_problems({"type": "string", "x-message": "m"}, "x") == ["x: keyword x-message"]


def test_the_descriptions_tell_a_model_what_it_must_know(client: ApiClient) -> None:
    tools = listed(client, legacy)
    search = tools["search_workflows"]["description"]
    assert "hard filters" in search and "confident: false" in search and "do NOT execute" in search
    assert all(label in search for label in ("signal_type", "severity", "environment", "component", "priority"))
    for name in ("get_workflow", "validate_parameters", "start_execution"):
        assert "writeOnly" in tools[name]["description"] and "secret" in tools[name]["description"]
    assert "awaiting_approval" in tools["start_execution"]["description"]
    assert tools["start_execution"]["annotations"]["destructiveHint"] is True
    assert tools["search_workflows"]["annotations"]["readOnlyHint"] is True


@pytest.mark.parametrize("send", ERAS)
def test_results_carry_the_rest_body_and_a_short_text(client: ApiClient, send: Send) -> None:
    create(client, "1.0.0")
    cases = [
        ("search_workflows", {"query": "pods OOMKilled", "labels": {"signal_type": "OOMKilled"}},
         client.post("/api/v1/playbooks/search", {"query": "pods OOMKilled", "labels": {"signal_type": "OOMKilled"}})),
        ("get_workflow", {"workflow_id": WORKFLOW}, client.get(f"/api/v1/playbooks/{WORKFLOW}")),
        ("validate_parameters", {"workflow_id": WORKFLOW, "version": "1.0.0", "parameters": {"MEMORY_LIMIT": "1Gi"}},
         client.post(f"/api/v1/playbooks/{WORKFLOW}/versions/1.0.0/validate", {"parameters": {"MEMORY_LIMIT": "1Gi"}})),
    ]
    for name, arguments, rest in cases:
        result = call(client, send, name, arguments)
        assert result["isError"] is False
        assert result["structuredContent"] == rest.json, name
        summary, as_json = result["content"]
        assert summary["type"] == "text" and len(summary["text"]) < 500
        assert json.loads(as_json["text"]) == rest.json
    assert "confident: true" in call(client, send, "search_workflows", cases[0][1])["content"][0]["text"]


@pytest.mark.parametrize("send", ERAS)
def test_start_and_get_execution_are_the_execution_routes(client: ApiClient, send: Send) -> None:
    create(client, "1.0.0")
    started = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT))
    assert started["isError"] is False, started
    body = started["structuredContent"]
    assert body["status"] == "pending" and body["pipeline_run"]["kind"] == "PipelineRun"
    rest = client.get(f"/api/v1/executions/{body['execution_id']}").json
    assert {k: v for k, v in body.items() if k != "pipeline_run"} == {k: v for k, v in rest.items() if k != "events"}
    got = call(client, send, "get_execution", {"execution_id": body["execution_id"]})
    assert got["structuredContent"] == client.get(f"/api/v1/executions/{body['execution_id']}").json
    assert body["execution_id"] in got["content"][0]["text"]


@pytest.mark.parametrize("send", ERAS)
def test_recommend_workflow_is_the_recommendations_route(client: ApiClient, send: Send) -> None:
    first = call(client, send, "recommend_workflow", recommendation())
    assert first["isError"] is False and first["structuredContent"]["occurrences"] == 1
    rec_id = first["structuredContent"]["recommendation_id"]
    again = call(client, send, "recommend_workflow", recommendation(incident_id="INC-2"))
    assert again["structuredContent"]["recommendation_id"] == rec_id
    assert again["structuredContent"] == client.get(f"/api/v1/recommendations/{rec_id}").json
    assert "2 occurrence(s)" in again["content"][0]["text"]


@pytest.mark.parametrize("send", ERAS)
def test_domain_errors_are_results_a_model_can_correct_itself_from(client: ApiClient, send: Send) -> None:
    create(client, "1.0.0")
    bad = call(client, send, "start_execution", execution(WORKFLOW, {**GOOD, "PASSWORD": "hunter2"}, INCIDENT))
    assert bad["isError"] is True
    problem = bad["structuredContent"]
    assert problem["type"].endswith("/validation-error") and problem["status"] == 400
    assert {"path": "$.parameters.PASSWORD", "message": "'PASSWORD' is not a declared parameter"} in problem["errors"]
    text = bad["content"][0]["text"]
    assert problem["detail"] in text and "$.parameters.PASSWORD" in text
    assert client.get("/api/v1/executions").json["items"] == []  # nothing was executed

    missing = call(client, send, "get_workflow", {"workflow_id": "no-such-workflow"})
    assert missing["isError"] and missing["structuredContent"]["type"].endswith("/not-found")
    malformed = call(client, send, "get_workflow", {"workflow_id": "Not An Id", "extra": 1})
    assert [e["path"] for e in malformed["structuredContent"]["errors"]] == ["$.extra", "$.workflow_id"]
    no_version = call(client, send, "validate_parameters", {"workflow_id": WORKFLOW, "parameters": {}})
    assert no_version["isError"] and no_version["structuredContent"]["errors"][0]["path"] == "$.version"

    client.patch(f"/api/v1/playbooks/{WORKFLOW}", {"enabled": False, "reason": "maintenance"})
    disabled = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT))
    assert disabled["isError"] and disabled["structuredContent"]["status"] == 409
    assert "disabled" in disabled["content"][0]["text"]


@pytest.mark.parametrize("send", ERAS)
def test_each_tool_needs_the_scope_of_its_route(client: ApiClient, send: Send) -> None:
    create(client, "1.0.0")
    read_only = ("catalog:read",)
    assert set(listed(client, send, read_only)) == TOOLS - {"start_execution", "recommend_workflow"}
    assert set(listed(client, send, ("executions:write",))) == {"start_execution"}
    refused = call(client, send, "start_execution", execution(WORKFLOW, GOOD, INCIDENT), scopes=read_only)
    assert refused["isError"] and refused["structuredContent"]["type"].endswith("/forbidden")
    assert "executions:write" in refused["content"][0]["text"]
    refused = call(client, send, "recommend_workflow", recommendation(), scopes=read_only)
    assert refused["isError"] and "recommendations:write" in refused["content"][0]["text"]


def test_one_log_line_per_request_names_the_method_and_tool_and_never_a_secret(client: ApiClient) -> None:
    create_kitchen(client)
    with captured_logs() as logs:
        result = call(client, modern, "start_execution", execution(
            "kitchen-sink", {"NAME": "abc", "CHANNEL": "ops", "TOKEN": SECRET},
            {"id": "INC-1", "signal_type": "DeploymentRolloutStuck"}))
        assert result["isError"] is False, result
        lines = logs.lines()
        requests = [line for line in lines if line["message"] == "request"]
        assert len(requests) == 1
        line = requests[0]
        assert (line["route"], line["mcp_method"], line["mcp_tool"], line["mcp_protocol_version"]) == (
            "/mcp", "tools/call", "start_execution", "2026-07-28")
        assert line["execution_id"] == result["structuredContent"]["execution_id"]
        assert SECRET not in json.dumps(lines)
        legacy(client, "tools/list")
        error_of_line = legacy(client, "nope/nope")
        assert error_of_line.status == 200
        lines = logs.requests()
        assert [line["mcp_method"] for line in lines] == ["tools/list", "nope/nope"]
        assert "mcp_error_code" not in lines[0] and lines[1]["mcp_error_code"] == -32601
        call(client, legacy, "get_workflow", {"workflow_id": "no-such-workflow"})
        assert logs.requests()[0]["mcp_tool_problem"] == "not-found"
