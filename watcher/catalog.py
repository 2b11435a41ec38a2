"""HTTP client of the catalog's registration endpoints, with authentication and retries."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from watcher.config import WatcherConfig

RETRIABLE = {408, 425, 429, 500, 502, 503, 504}


class CatalogUnavailable(Exception):
    """The catalog could not be reached or kept failing; the delivery is retried later."""


class CatalogRejected(Exception):
    """The catalog refused the resource itself (a 4xx): retrying the same object cannot help."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(describe_problem(problem) or f"HTTP {status}")


@dataclass(frozen=True)
class Accepted:
    registration_id: str
    workflow_id: str | None
    version: str | None


class Auth(Protocol):
    def headers(self, method: str, url: str, body: bytes | None) -> dict[str, str]: ...


class BearerKeyFile:
    """Reads the key on every request so that a rotated Secret takes effect without a restart."""

    def __init__(self, path: str) -> None:
        self.path = path

    def headers(self, method: str, url: str, body: bytes | None) -> dict[str, str]:
        with open(self.path, encoding="utf-8") as handle:
            return {"Authorization": f"Bearer {handle.read().strip()}"}


class SigV4:
    """Signs for an IAM-protected API Gateway with the pod's AWS credentials (IRSA or instance role)."""

    def __init__(self, region: str) -> None:
        import botocore.session

        self.region = region
        self.session = botocore.session.get_session()

    def headers(self, method: str, url: str, body: bytes | None) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body or b"", headers={"Content-Type": "application/json"})
        SigV4Auth(self.session.get_credentials(), "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())


def make_auth(config: WatcherConfig) -> Auth:
    if config.auth == "sigv4":
        return SigV4(config.aws_region or "")
    return BearerKeyFile(config.api_key_file or "")


def describe_problem(problem: dict[str, Any]) -> str:
    """One line an operator can act on, from an RFC 7807 problem (title, detail, each field error)."""
    parts = [str(problem.get("detail") or problem.get("title") or "")]
    for error in problem.get("errors") or []:
        if isinstance(error, dict):
            parts.append(f"{error.get('path', '')}: {error.get('message', '')}")
    return "; ".join(part for part in parts if part)


class CatalogClient:
    def __init__(self, base_url: str, auth: Auth, attempts: int = 5, backoff: float = 0.5, timeout: float = 10.0,
                 stop: threading.Event | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.stop = stop or threading.Event()
        self.http = requests.Session()

    def register(self, event: str, obj: dict[str, Any], correlation_id: str) -> Accepted:
        body = self._call("POST", "/api/v1/registrations", {"event": event, "object": obj}, correlation_id)
        return Accepted(body["registration_id"], body.get("workflow_id"), body.get("version"))

    def registration(self, registration_id: str, correlation_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/registrations/{registration_id}", None, correlation_id)

    def _call(self, method: str, path: str, payload: Any, correlation_id: str) -> dict[str, Any]:
        """Retries connection errors, 429 and 5xx with jittered exponential backoff; other 4xx raise at once."""
        url = self.base_url + path
        body = None if payload is None else json.dumps(payload).encode()
        last = "no attempt made"
        for attempt in range(self.attempts):
            if attempt:
                delay = min(30.0, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
                if self.stop.wait(delay):
                    break
            headers = {"Content-Type": "application/json", "Accept": "application/json",
                       "X-Correlation-Id": correlation_id, **self.auth.headers(method, url, body)}
            try:
                response = self.http.request(method, url, data=body, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300:
                return response.json()
            if response.status_code not in RETRIABLE:
                raise CatalogRejected(response.status_code, _problem(response))
            last = f"HTTP {response.status_code}: {describe_problem(_problem(response))}"
        raise CatalogUnavailable(f"{method} {path} failed after {self.attempts} attempts ({last})")


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"title": response.reason or f"HTTP {response.status_code}"}
    return body if isinstance(body, dict) else {"title": str(body)}
