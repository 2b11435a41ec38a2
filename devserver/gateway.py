"""Local stand-in for API Gateway's Gateway Responses, so local runs answer like AWS does.

In AWS, infra/ configures Gateway Responses that turn API Gateway's own errors (no Authorization
header, unknown route, body too large) into RFC 7807 problems. Chalice's local emulation and test
client raise LocalGatewayException with API Gateway's default bodies instead; ``gateway_problem``
applies the same mapping, for the local server (devserver/local_server.py) and the test
client below (development only, never deployed).
"""

from __future__ import annotations

from chalice.local import LocalGatewayException
from chalice.test import HTTPResponse, TestHTTPClient

from chalicelib.http.problems import (
    INVALID_REQUEST,
    MISSING_KEY_DETAIL,
    PROBLEM_CONTENT_TYPE,
    bearer_challenge,
    problem_text,
    status_problem,
)

# API Gateway's hard payload limit is 10 MB; the local server refuses larger bodies before reading them.
GATEWAY_MAX_BODY = 10 * 1024 * 1024


def gateway_problem(error: LocalGatewayException) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the problem API Gateway answers for ``error`` with our infra."""
    message = (error.body or b"").decode("utf-8", "replace")
    status = error.CODE
    if "Missing Authentication Token" in message or "Authorization header requires" in message:
        # API Gateway's answers for an unknown route (without / with an Authorization header);
        # infra maps both to 404.
        status, detail = 404, "No such route or method."
    elif status == 401:  # no Authorization header at all
        detail = MISSING_KEY_DETAIL
    elif status == 403:
        detail = "The request is not allowed."
    else:
        detail = "The gateway could not process the request."
    headers = {k: v for k, v in (error.headers or {}).items() if k.lower().startswith("x-amzn")}
    headers["Content-Type"] = PROBLEM_CONTENT_TYPE
    if status == 401:
        headers["WWW-Authenticate"] = bearer_challenge(INVALID_REQUEST, detail)
    return status, headers, problem_text(status_problem(status, detail)).encode()


class ProblemTestHTTPClient(TestHTTPClient):
    """Chalice's test HTTP client with the Gateway Responses applied."""

    def _error_response(self, e: LocalGatewayException) -> HTTPResponse:
        status, headers, body = gateway_problem(e)
        return HTTPResponse(headers=headers, body=body, status_code=status)

