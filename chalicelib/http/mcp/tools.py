"""MCP tools as adapters of REST routes: a tool is a route, run in-process.

A tool names the route it is (method and path): its operation in chalicelib/http/operations.py.
Its ``inputSchema`` is that route's body contract with the route's path parameters added as
properties (chalicelib/domain/contracts.py ``PATH_PARAMETERS``); a call checks the route's scope,
checks the path arguments and normalises them as REST does, then runs the route's own handler with
the other arguments as the body. So a tool validates with the very
contract the route validates with, calls the same service, and its result is the route's response
body (``structuredContent``) or the route's problem document (an ``isError`` result), whatever the
route does now or later (new rules reach the tools without touching them).

No protocol types here (chalicelib/http/mcp/protocol.py has them): this module is imported with
the app, the protocol only by an MCP request.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalice.app import Request

from chalicelib.domain import contracts
from chalicelib.domain.contracts import Contract
from chalicelib.domain.errors import CatalogError
from chalicelib.http.auth import require_scope
from chalicelib.http.endpoint import Call, to_response
from chalicelib.http.operations import ANY_KEY, Operation, operation
from chalicelib.http.problems import error_response, problem_body
from chalicelib.observability import bind, logger
from chalicelib.services.api_keys import Principal

ARGUMENTS_DETAIL = "The tool arguments are not valid; see errors."


@dataclass(frozen=True)
class Annotations:
    """MCP tool annotations: hints for a client deciding what to confirm with a human."""

    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True

    def to_dict(self) -> dict[str, bool]:
        return {"readOnlyHint": self.read_only, "destructiveHint": self.destructive,
                "idempotentHint": self.idempotent, "openWorldHint": False}


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str  # written for a model
    method: str
    path: str
    summarize: Callable[[Mapping[str, Any]], str]  # the short text for the model, from the route's response body
    annotations: Annotations = field(default_factory=Annotations)

    @property
    def route(self) -> Operation:
        return operation(self.method, self.path)

    @property
    def scope(self) -> str | None:
        return self.route.scope

    @functools.cached_property
    def arguments(self) -> Contract:
        """The route's body contract with its path parameters as required properties: the ``inputSchema``."""
        body = self.route.body
        schema: dict[str, Any] = dict(body.schema) if body else {"type": "object", "additionalProperties": False}
        names = self.route.path_names
        schema["properties"] = {**{name: contracts.PATH_PARAMETERS[name].schema for name in names},
                                **schema.get("properties", {})}
        required = [*names, *schema.get("required", [])]
        if required:
            schema["required"] = required
        return Contract(f"{self.name}_arguments", schema, detail=ARGUMENTS_DETAIL)

    @functools.cached_property
    def path_arguments(self) -> Contract:
        """What a call checks before the route runs: the path arguments (and, for a route without a body,
        that there is nothing else); the route's own contract checks its body."""
        names = self.route.path_names
        schema: dict[str, Any] = {"type": "object", "properties": {
            n: contracts.PATH_PARAMETERS[n].schema for n in names}}
        if names:
            schema["required"] = names
        if self.route.body is None:
            schema["additionalProperties"] = False
        return Contract(f"{self.name}_path", schema, detail=ARGUMENTS_DETAIL)

    def definition(self) -> dict[str, Any]:
        """The tool as tools/list describes it."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "inputSchema": contracts.published(self.arguments.json_schema),
                "annotations": self.annotations.to_dict()}

    def allowed(self, principal: Principal) -> bool:
        return self.scope in (None, ANY_KEY) or principal.allows(str(self.scope))


@dataclass(frozen=True)
class Outcome:
    """A tool's result: the route's response body, or its problem document when ``is_error``."""

    body: dict[str, Any]
    is_error: bool
    text: str  # for the model: the summary, or the problem's detail and errors


@dataclass
class ToolCall(Call):
    """The route's ``Call`` with the tool's arguments (path values removed) as its JSON body."""

    arguments: Mapping[str, Any] = field(default_factory=dict)

    def json(self, max_bytes: int = 0) -> dict[str, Any]:
        return dict(self.arguments)  # already read (and size-checked) as the MCP message


def call(tool: Tool, request: Request, principal: Principal, arguments: Mapping[str, Any]) -> Outcome:
    """Runs the tool's route with ``arguments``; domain errors (bad input, scope, 404, 409...) come back as the
    route's problem document, so a model can read what to change."""
    route = tool.route
    instance = None
    try:
        if tool.scope not in (None, ANY_KEY):
            require_scope(principal, str(tool.scope))
        tool.path_arguments.check(arguments)
        path_values = {name: str(arguments[name]) for name in route.path_names}
        bind(**path_values)  # ids (workflow_id, version, execution_id) go on the request's log line, as in REST
        instance = tool.path.format(**path_values)
        body = {key: value for key, value in arguments.items() if key not in path_values}
        assert route.handler is not None  # every registered operation has its handler
        handled = route.handler(ToolCall(request, principal, {}, route.body, body), **route.path_values(path_values))
        answer = json.loads(to_response(handled).body)
        return Outcome(answer, False, tool.summarize(answer))
    except CatalogError as error:
        problem = json.loads(error_response(error, instance).body)
        return Outcome(problem, True, problem_text(problem))
    except Exception:
        logger.exception("unhandled error", extra={"mcp_tool": tool.name})
        problem = problem_body(500, "internal-error", "Internal error",
                               "The tool failed unexpectedly; it has been logged. Try again later.")
        return Outcome(problem, True, problem_text(problem))


def problem_text(problem: Mapping[str, Any]) -> str:
    """The problem as a model reads it: what went wrong, then each field to change, and when to retry where
    waiting helps (a guard's retry_after)."""
    lines = [f"{problem.get('title', 'Error')}: {problem.get('detail', '')}"]
    lines += [f"- {error.get('path')}: {error.get('message')}" for error in problem.get("errors", [])]
    if "retry_after" in problem:
        retry = problem["retry_after"]
        lines.append(f"Do not retry before {retry} seconds have passed." if retry is not None
                     else "Retrying does not help: ask an operator.")
    return "\n".join(lines)
