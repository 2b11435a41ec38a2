"""RFC 7807 problem responses: the one place where errors become HTTP."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.domain.errors import CatalogError, ServiceUnavailable, Unauthorized

PROBLEM_BASE = "https://kubernaut.ai/problems"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# Status -> (slug, title) for problems that do not come from a domain error (gateway, framework).
STATUS_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("validation-error", "Invalid request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("content-conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    414: ("payload-too-large", "URI too long"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("service-unavailable", "Too many requests"),
    431: ("payload-too-large", "Request headers too large"),
    500: ("internal-error", "Internal error"),
    502: ("service-unavailable", "Bad gateway"),
    503: ("service-unavailable", "Service unavailable"),
    504: ("service-unavailable", "Gateway timeout"),
    505: ("validation-error", "HTTP version not supported"),
}


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": f"{PROBLEM_BASE}/{slug}", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
) -> Response:
    return Response(
        body=problem_text(problem_body(status, slug, title, detail, instance, errors)),
        status_code=status,
        headers=problem_headers(status),
    )


def problem_text(body: dict[str, Any]) -> str:
    """A problem document as sent: JSON and a final newline (a terminal's prompt starts on its own line)."""
    return json.dumps(body) + "\n"


# RFC 6750: a 401 names the scheme and why, so a client (the MCP Inspector, an SDK) can tell its user.
INVALID_TOKEN, INVALID_REQUEST = "invalid_token", "invalid_request"
MISSING_KEY_DETAIL = "Send an API key as 'Authorization: Bearer <key>'."


def bearer_challenge(error: str, description: str) -> str:
    """The WWW-Authenticate value of a 401. ``error_description`` keeps to printable ASCII without quotes (RFC 6750
    excludes " and \\; API Gateway's static header values cannot hold ')."""
    printable = "".join(c for c in description if " " <= c <= "~" and c not in "\"'\\")
    return f'Bearer realm="catalog", error="{error}", error_description="{printable[:300]}"'


def problem_headers(status: int, retry_after: int | None = None) -> dict[str, str | list[str]]:
    """Content-Type, and Retry-After on every 503 (clients and the watcher back off by it) and on any problem
    that says when waiting helps (a guard's refusal)."""
    headers: dict[str, str | list[str]] = {"Content-Type": PROBLEM_CONTENT_TYPE}
    if status == 503 or retry_after is not None:
        headers["Retry-After"] = str(retry_after or ServiceUnavailable.DEFAULT_RETRY_AFTER)
    return headers


def error_body(error: CatalogError, instance: str | None = None) -> dict[str, Any]:
    """The problem document of a domain error (also what a dry run lists in blocked_by)."""
    body = problem_body(error.status, error.slug, error.title, error.detail, instance,
                        [e.to_dict() for e in error.errors])
    body.update(error.members())  # e.g. target-busy's active_execution_id, a guard's retry_after
    return body


def error_response(error: CatalogError, instance: str | None = None) -> Response:
    headers = problem_headers(error.status, error.retry_after)
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = bearer_challenge(INVALID_TOKEN if error.key_sent else INVALID_REQUEST,
                                                       error.detail)
    return Response(body=problem_text(error_body(error, instance)), status_code=error.status, headers=headers)


def status_problem(status: int, detail: str, instance: str | None = None) -> dict[str, Any]:
    slug, title = STATUS_PROBLEMS.get(status, ("internal-error", "Error"))
    return problem_body(status, slug, title, detail, instance)
