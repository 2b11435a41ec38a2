"""HTTP middleware: correlation id, one structured log line per request, problems for framework errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from chalice import Response
from chalice.app import Request

from chalicelib.http.problems import PROBLEM_CONTENT_TYPE, problem_text, status_problem
from chalicelib.http.request import request_path
from chalicelib.observability import CORRELATION_HEADER, bind, clear_bound, correlation_id_from, logger


def request_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    started = request_started(event)
    clear_bound()
    correlation_id = correlation_id_from(event.headers.get(CORRELATION_HEADER.lower()))
    # Path ids (workflow_id, version, registration_id, execution_id) go on every line of the request.
    bind(correlation_id=correlation_id, **(event.uri_params or {}))
    response = get_response(event)
    if response.status_code >= 400 and not _is_problem(response) and not _is_jsonrpc(response.body):
        # Errors raised by Chalice itself (outside our views) still answer RFC 7807 (the MCP route answers
        # protocol errors as JSON-RPC, as that protocol requires).
        detail = _framework_message(response.body)
        response.body = problem_text(status_problem(response.status_code, detail, request_path(event)))
        response.headers["Content-Type"] = PROBLEM_CONTENT_TYPE
    response.headers[CORRELATION_HEADER] = correlation_id
    authorizer = (event.context or {}).get("authorizer") or {}
    log_request(
        method=event.method,
        route=(event.context or {}).get("resourcePath", event.path),  # the template, e.g. .../{workflow_id}
        path=request_path(event),
        status=response.status_code,
        started=started,
        # Only a key the authorizer could check names a principal (a 503 from a down database does not).
        principal=None if authorizer.get("error") else authorizer.get("principalId"),
        body=response.body,
    )
    clear_bound()
    return response


def request_started(event: Request) -> float:
    """When the request reached the edge (epoch seconds): API Gateway's ``requestTimeEpoch`` (the local
    server sets it too), so latency includes the authorizer; else now."""
    received_ms = (event.context or {}).get("requestTimeEpoch")
    return received_ms / 1000 if isinstance(received_ms, int | float) and received_ms > 0 else time.time()


def log_request(
    *, method: str, route: str | None, path: str, status: int, started: float, principal: str | None, body: object
) -> None:
    """The one JSON line of a request (also for answers the gateway gives before any handler runs). Handlers add
    fields to it with ``observability.bind`` (the MCP route names the JSON-RPC method and the tool that way)."""
    logger.info(
        "request",
        extra={
            "http_method": method,
            "route": route,
            "path": path,
            "status": status,
            "latency_ms": round(max(time.time() - started, 0.0) * 1000, 2),
            "principal": principal,
            "problem_type": problem_slug(body) if status >= 400 else None,
        },
    )


def problem_slug(body: object) -> str | None:
    """The problem's type slug (e.g. ``content-conflict``), so errors can be grouped by kind."""
    try:
        return str(json.loads(body)["type"]).rsplit("/", 1)[-1]  # type: ignore[arg-type]
    except (ValueError, TypeError, KeyError):
        return None


def _is_problem(response: Response) -> bool:
    headers = {k.lower(): v for k, v in response.headers.items()}
    content_type = headers.get("content-type", "")  # Chalice allows a list (a multi-value header); ours is one
    return isinstance(content_type, str) and content_type.startswith(PROBLEM_CONTENT_TYPE)


def _is_jsonrpc(body: object) -> bool:
    try:
        return json.loads(body).get("jsonrpc") == "2.0"  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError):
        return False


def _framework_message(body: object) -> str:
    try:
        data = json.loads(body) if isinstance(body, (str, bytes)) else body
        if isinstance(data, dict) and isinstance(data.get("Message"), str):
            return data["Message"][:500]
    except (ValueError, TypeError):
        pass
    return "The request could not be processed."
