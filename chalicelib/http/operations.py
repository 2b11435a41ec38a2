"""The operation registry: every route as the ``endpoint`` decorator declared it, in one place.

chalicelib/http/endpoint.py registers each route's ``Operation`` (scope, contracts, answers, handler) when
the app imports the route modules; the OpenAPI document (chalicelib/http/openapi.py) is built from
``operations()`` and each MCP tool (chalicelib/http/mcp/tools.py) runs ``operation(method, path)``, so what
is documented, what an agent calls and what is served are one declaration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.contracts import PATH_PARAMETERS, Contract, PathParameter

# ``scope=ANY_KEY``: any valid API key may call the route (it checks finer scopes itself, as /mcp does per tool).
ANY_KEY = "*"


@dataclass(frozen=True)
class Operation:
    """A route as declared; its handler is ``fn(call, **path_values)`` with the path values normalised."""

    path: str
    method: str
    summary: str
    scope: str | None  # None: public
    query: Contract
    body: Contract | None = None
    responses: Mapping[int, tuple[str, str | None]] = field(default_factory=dict)  # status -> (description, schema)
    errors: tuple[int, ...] = ()  # problem statuses besides the ones every such route can answer
    description: str | None = None
    handler: Callable[..., Any] | None = field(default=None, compare=False)

    @property
    def path_names(self) -> list[str]:
        return path_names(self.path)

    def path_values(self, raw: Mapping[str, str]) -> dict[str, str]:
        """The path's values as the handler takes them (each parameter's normaliser; NotFound when one names
        nothing), whichever way they came: a REST request's path or an MCP tool's arguments."""
        return {name: path_parameter(name).normalise(raw[name]) for name in self.path_names}


_operations: dict[tuple[str, str], Operation] = {}
_lock = threading.Lock()


def register(operation: Operation) -> None:
    for name in operation.path_names:
        path_parameter(name)  # a placeholder without a declaration fails when the route is declared
    with _lock:
        _operations[(operation.method, operation.path)] = operation


def operations() -> list[Operation]:
    """Every registered operation, by path then method."""
    with _lock:
        return sorted(_operations.values(), key=lambda op: (op.path, op.method))


def operation(method: str, path: str) -> Operation:
    """The operation registered for ``method`` and ``path`` (KeyError when there is none)."""
    with _lock:
        return _operations[(method.lower(), path)]


def path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def path_parameter(name: str) -> PathParameter:
    try:
        return PATH_PARAMETERS[name]
    except KeyError:
        raise KeyError(f"path parameter {{{name}}} is not declared in domain/contracts.py PATH_PARAMETERS") from None
