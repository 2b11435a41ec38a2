"""A thin client over Chalice's test client: JSON in/out, API keys with chosen scopes.

Requests go through Chalice's local API Gateway emulation, so the built-in authorizer runs, and
through devserver.gateway's Gateway Responses, as in `make run` and in AWS.
"""

from __future__ import annotations

import json as jsonlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.test import Client

from devserver.gateway import ProblemTestHTTPClient

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def content_type(self) -> str:
        return {k.lower(): v for k, v in self.headers.items()}.get("content-type", "")

    def __repr__(self) -> str:
        return f"Result({self.status}, {self.body[:300]!r})"


class ApiClient:
    def __init__(self, app: Any, key_service: Any) -> None:
        self._client = Client(app, stage_name="local", project_dir=str(PROJECT_DIR))
        self._http = ProblemTestHTTPClient(app, self._client._chalice_config)
        self._keys = key_service
        self._tokens: dict[tuple[str, ...], str] = {}

    def token(self, *scopes: str) -> str:
        """A real API key with exactly these scopes (created once per client)."""
        wanted = tuple(sorted(scopes))
        if wanted not in self._tokens:
            _, self._tokens[wanted] = self._keys.create(f"test {' '.join(wanted)}", list(wanted))
        return self._tokens[wanted]

    def auth(self, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*scopes)}"}

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        scopes: tuple[str, ...] | None = ("admin",),
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Result:
        all_headers = dict(self.auth(*scopes)) if scopes else {}
        if json is not None:
            body = jsonlib.dumps(json).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        response = self._http.request(method, path, headers=all_headers, body=body or b"")
        return Result(response.status_code, dict(response.headers), response.body or b"")

    def get(self, path: str, **kwargs: Any) -> Result:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Result:
        return self.request("POST", path, json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Result:
        return self.request("PATCH", path, json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Result:
        return self.request("DELETE", path, **kwargs)


@contextmanager
def services_started_with(**env: str) -> Iterator[None]:
    """For the block, the services as a process started with these environment variables too builds them (on the
    same database); then the previous ones again."""
    from chalicelib.config import load_settings
    from chalicelib.container import Services, reset_services, services

    previous = services()
    configured = Services(load_settings({**os.environ, **env}))
    reset_services(configured)
    try:
        yield
    finally:
        reset_services(previous)
        configured.db.close()
