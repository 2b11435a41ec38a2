"""HTTP middleware: correlation id, one structured log line per request, problems for framework errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from chalice import Response
from chalice.app import Request

from chalicelib.http.problems import PROBLEM_CONTENT_TYPE, status_problem
from chalicelib.http.request import request_path
from chalicelib.observability import CORRELATION_HEADER, bind, clear_bound, correlation_id_from, logger


def request_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
    started = time.perf_counter()
    clear_bound()
    correlation_id = correlation_id_from(event.headers.get(CORRELATION_HEADER.lower()))
    # Path ids (workflow_id, version, registration_id, execution_id) go on every line of the request.
    bind(correlation_id=correlation_id, **(event.uri_params or {}))
    response = get_response(event)
    if response.status_code >= 400 and not _is_problem(response):
        # Errors raised by Chalice itself (outside our views) still answer RFC 7807.
        detail = _framework_message(response.body)
        response.body = json.dumps(status_problem(response.status_code, detail, request_path(event)))
        response.headers["Content-Type"] = PROBLEM_CONTENT_TYPE
    response.headers[CORRELATION_HEADER] = correlation_id
    route = (event.context or {}).get("resourcePath", event.path)  # the template, e.g. .../{workflow_id}
    logger.info(
        "request",
        extra={
            "http_method": event.method,
            "route": route,
            "path": request_path(event),
            "status": response.status_code,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "principal": ((event.context or {}).get("authorizer") or {}).get("principalId"),
            "problem_type": _problem_slug(response) if response.status_code >= 400 else None,
        },
    )
    clear_bound()
    return response


def _problem_slug(response: Response) -> str | None:
    """The problem's type slug (e.g. ``content-conflict``), so errors can be grouped by kind."""
    try:
        return str(json.loads(response.body)["type"]).rsplit("/", 1)[-1]
    except (ValueError, TypeError, KeyError):
        return None


def _is_problem(response: Response) -> bool:
    headers = {k.lower(): v for k, v in response.headers.items()}
    content_type = headers.get("content-type", "")  # Chalice allows a list (a multi-value header); ours is one
    return isinstance(content_type, str) and content_type.startswith(PROBLEM_CONTENT_TYPE)


def _framework_message(body: object) -> str:
    try:
        data = json.loads(body) if isinstance(body, (str, bytes)) else body
        if isinstance(data, dict) and isinstance(data.get("Message"), str):
            return data["Message"][:500]
    except (ValueError, TypeError):
        pass
    return "The request could not be processed."
