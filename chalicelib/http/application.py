"""The Chalice application class: per-thread request state, so concurrent requests never see each other's.

Chalice keeps the request being handled (``current_request``) and the Lambda context on the app
object, and views read them from there. A Lambda execution environment handles one request at a
time, so that is safe there; the local server (``make run``) handles requests on threads, and two
requests at once would read each other's request, authorizer context and body. Keeping both per
thread fixes that at the root (Chalice's own ``chalice local`` does the same with a class swap), at
no cost in Lambda.
"""

from __future__ import annotations

import threading
from typing import Any

from chalice import Chalice
from chalice.app import Request


class CatalogApp(Chalice):
    _per_thread = threading.local()

    @property
    def current_request(self) -> Request | None:
        return getattr(self._per_thread, "request", None)

    @current_request.setter
    def current_request(self, value: Request | None) -> None:
        self._per_thread.request = value

    @property
    def lambda_context(self) -> Any:
        return getattr(self._per_thread, "lambda_context", None)

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._per_thread.lambda_context = value
