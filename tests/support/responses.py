"""Every 2xx JSON body the suite receives, held to its operation's documented response schema.

``ResponseCheck.middleware`` is registered on the app for the whole test session (tests/conftest.py), so it sees
every response the app gives in this process: through the Chalice test client (tests/support/api.py) and through
the in-process HTTP servers (devserver/local_server.py) that real HTTP clients talk to (the watcher, runners, the
MCP SDK client, the benchmarks' smoke runs). A body is checked twice against the OpenAPI document of
chalicelib/http/openapi.py:
- it validates against the response schema of its operation and status (JSON Schema 2020-12, formats included);
- it holds no field the schema does not document (a view that adds a field must document it).
A status an operation does not document is a drift too. Drifts are collected (a middleware must answer, not raise)
and fail the test that caused them (tests/conftest.py); the counts are printed at the end of the run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from chalice import Response
from chalice.app import Request
from jsonschema import Draft202012Validator, FormatChecker


class ResponseCheck:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._document: dict[str, Any] | None = None
        self.bodies = 0
        self.operations: set[tuple[str, str]] = set()
        self.drifts: list[str] = []

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            from chalicelib.http.openapi import openapi_document

            self._document = openapi_document()
        return self._document

    def middleware(self, event: Request, get_response: Callable[[Request], Response]) -> Response:
        response = get_response(event)
        if 200 <= response.status_code < 300:
            route = (event.context or {}).get("resourcePath") or event.path
            validated = False
            try:
                problems, validated = self._check(event.method, route, response.status_code, response.headers,
                                                  response.body)
            except Exception as exc:  # a checker failure is a finding, never a broken answer
                problems = [f"the check failed: {exc!r}"]
            with self._lock:
                self.drifts += [f"{event.method} {route} {response.status_code}: {p}" for p in problems]
                if validated:
                    self.bodies += 1
                    self.operations.add((event.method.upper(), route))
        return response

    def check(self, method: str, route: str, status: int, headers: Mapping[str, Any], body: Any) -> list[str]:
        """The drifts of one 2xx answer (none: it is what the document says)."""
        return self._check(method, route, status, headers, body)[0]

    def _check(self, method: str, route: str, status: int, headers: Mapping[str, Any], body: Any
               ) -> tuple[list[str], bool]:
        """(drifts, whether a schema applied) of one 2xx answer."""
        operation = self.document["paths"].get(route, {}).get(method.lower())
        if operation is None:
            return ["the operation is not in the OpenAPI document"], False
        documented = operation["responses"].get(str(status))
        if documented is None:
            return [f"status {status} is not documented (documented: {sorted(operation['responses'])})"], False
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if not str(content_type).startswith("application/json"):
            return [], False
        schema = documented.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return [], False  # documented without a schema (the OpenAPI document itself)
        value = json.loads(body)
        root = {**schema, "components": self.document["components"]}
        validator = Draft202012Validator(root, format_checker=FormatChecker())
        problems = [f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
                    for error in validator.iter_errors(value)]
        return problems + self._undocumented(value, schema, ""), True

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            schema = {**self.document["components"]["schemas"][name], **{k: v for k, v in schema.items()
                                                                           if k != "$ref"}}
        return schema

    def _undocumented(self, value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
        """Fields of ``value`` that ``schema`` does not name (where it names its fields at all), at any depth."""
        schema = self._resolve(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:  # the branch the value is: the first that validates
                for branch in schema[key]:
                    if Draft202012Validator({**branch, "components": self.document["components"]}).is_valid(value):
                        return self._undocumented(value, branch, path)
                return []
        properties: dict[str, Any] = dict(schema.get("properties", {}))
        for member in schema.get("allOf", []):
            properties.update(self._resolve(member).get("properties", {}))
        problems = []
        if isinstance(value, dict) and properties and "additionalProperties" not in schema \
                and "patternProperties" not in schema:
            problems += [f"{path}/{name}: not documented" for name in sorted(set(value) - set(properties))]
        if isinstance(value, dict):
            for name, item in value.items():
                if name in properties:
                    problems += self._undocumented(item, properties[name], f"{path}/{name}")
                elif isinstance(schema.get("additionalProperties"), Mapping):
                    problems += self._undocumented(item, schema["additionalProperties"], f"{path}/{name}")
        if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
            for index, item in enumerate(value):
                problems += self._undocumented(item, schema["items"], f"{path}/{index}")
        return problems


RESPONSES = ResponseCheck()
