"""Local stand-in for API Gateway's Gateway Responses, so local runs answer like AWS does.

In AWS, infra/ configures Gateway Responses that turn API Gateway's own errors (no Authorization
header, unknown route, body too large) into RFC 7807 problems. ``chalice local`` and Chalice's
test client raise LocalGatewayException with API Gateway's default bodies instead; the classes
here apply the same mapping. They subclass Chalice's local server and test client (development
only, never deployed).
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, LocalGatewayException
from chalice.test import HTTPResponse, TestHTTPClient

from chalicelib.http.problems import PROBLEM_CONTENT_TYPE, status_problem

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
    elif status == 401:
        detail = "Send an API key as 'Authorization: Bearer <key>'."
    elif status == 403:
        detail = "The request is not allowed."
    else:
        detail = "The gateway could not process the request."
    headers = {k: v for k, v in (error.headers or {}).items() if k.lower().startswith("x-amzn")}
    headers["Content-Type"] = PROBLEM_CONTENT_TYPE
    return status, headers, json.dumps(status_problem(status, detail)).encode()


class ProblemRequestHandler(ChaliceRequestHandler):
    # Chalice keeps the current request on the app object, so two requests handled at once on the
    # local server's threads would see each other's request. A Lambda execution environment serves
    # one request at a time; the local server does the same.
    _one_at_a_time = threading.Lock()

    def _send_error_response(self, error: LocalGatewayException) -> None:
        self._send_http_response(*gateway_problem(error))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (URI too long, too many headers, a method no route has) as
        problems instead of its HTML page; API Gateway answers those with Gateway Responses too."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            # TRACE, CONNECT or an invented method: answered like a PUT on a GET-only route.
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"Unsupported method: {self.command[:32]}"
        code = int(code)
        self.log_error("code %d, message %s", code, message)
        detail = (message or self.responses.get(code, ("", "The request could not be processed."))[1])[:500]
        self.close_connection = True
        headers = {"Content-Type": PROBLEM_CONTENT_TYPE, "Connection": "close"}
        body = json.dumps(status_problem(code, detail)).encode() if self.command != "HEAD" else None
        self._send_http_response(code, headers, body)

    def _generic_handle(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > GATEWAY_MAX_BODY:
            body = json.dumps(status_problem(413, f"Bodies over {GATEWAY_MAX_BODY} bytes are refused.")).encode()
            self.close_connection = True
            self._send_http_response(413, {"Content-Type": PROBLEM_CONTENT_TYPE}, body)
            return
        with self._one_at_a_time:
            super()._generic_handle()


class ProblemTestHTTPClient(TestHTTPClient):
    """Chalice's test HTTP client with the Gateway Responses applied."""

    def _error_response(self, e: LocalGatewayException) -> HTTPResponse:
        status, headers, body = gateway_problem(e)
        return HTTPResponse(headers=headers, body=body, status_code=status)


def make_server(app: Chalice, config: Config, host: str, port: int) -> LocalDevServer:
    return LocalDevServer(app, config, host, port, handler_cls=ProblemRequestHandler)
