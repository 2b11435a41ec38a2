"""HTTP client of the catalog: the registration endpoints (deliveries, their outcome, reconciliation) and
the runner's (claims, execution reports), with authentication and retries."""

import json
import random
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import botocore.session
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from watcher.config import WatcherConfig

RETRIABLE = {408, 425, 429, 500, 502, 503, 504}


class CatalogUnavailable(Exception):
    """The catalog could not be reached, kept failing or refused our key; the delivery is retried later."""


class CatalogRejected(Exception):
    """The catalog refused the request itself (a 4xx): retrying the same object cannot help."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(describe_problem(problem) or f"HTTP {status}")


class Auth:
    """A bearer key read from the mounted Secret on every request (so a rotated key needs no restart), or
    SigV4 for an IAM-protected API Gateway, signed with the pod's AWS credentials (IRSA or instance role)."""

    def __init__(self, config: WatcherConfig) -> None:
        self.config = config
        self.session = botocore.session.get_session() if config.auth == "sigv4" else None

    def headers(self, method: str, url: str, body: bytes | None) -> dict[str, str]:
        if self.session is None:
            with open(self.config.api_key_file or "", encoding="utf-8") as handle:
                return {"Authorization": f"Bearer {handle.read().strip()}"}
        credentials = self.session.get_credentials()
        if credentials is None:  # an operational state like a refused key, not a bug: retried later
            raise CatalogUnavailable("no AWS credentials to sign the request with (IRSA or an instance role)")
        region = self.config.aws_region
        assert region is not None, "load_config requires AWS_REGION with CATALOG_AUTH=sigv4"
        request = AWSRequest(method=method, url=url, data=body or b"", headers={"Content-Type": "application/json"})
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
        return dict(request.headers.items())


def describe_problem(problem: dict[str, Any]) -> str:
    """One line an operator can act on, from an RFC 7807 problem (title, detail, each field error)."""
    parts = [str(problem.get("detail") or problem.get("title") or "")]
    parts += [f"{error.get('path', '')}: {error.get('message', '')}" for error in problem.get("errors") or []
              if isinstance(error, dict)]
    return "; ".join(part for part in parts if part)


def answered_at(date: str | None) -> datetime:
    """The time of an answer from its ``Date`` header, else now."""
    try:
        answered = parsedate_to_datetime(date or "")
    except (TypeError, ValueError):
        return datetime.now(UTC)
    # "-0000" (RFC 5322: UTC, the source's zone unknown) parses without a zone.
    return answered if answered.tzinfo is not None else answered.replace(tzinfo=UTC)


class CatalogClient:
    attempts, backoff, timeout = 5, 0.5, 10.0  # per call; first retry delay and request timeout in seconds

    def __init__(self, config: WatcherConfig, stop: threading.Event) -> None:
        self.base_url = config.catalog_url.rstrip("/")
        self.auth = Auth(config)
        self.stop = stop
        self.http = requests.Session()
        # One connection per thread that may call at once (workers of both kinds, the claim, reconciliation),
        # so none is opened and thrown away per request.
        for scheme in ("http://", "https://"):
            self.http.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=32))

    def register(self, event: str, obj: dict[str, Any], correlation_id: str) -> dict[str, Any]:
        """Returns the accepted registration: ``registration_id`` (and ``workflow_id``, ``version`` when known)."""
        return self._call("POST", "/api/v1/registrations", correlation_id, {"event": event, "object": obj})

    def registration(self, registration_id: str, correlation_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/registrations/{registration_id}", correlation_id)

    def reconcile(self, namespace: str | None, live: list[dict[str, Any]], correlation_id: str) -> dict[str, Any]:
        """Reports every live resource of the scope (``namespace``, None for all); the catalog disables the
        workflows of resources no longer live and answers ``{"disabled": [workflow ids], "stale": [uids]}``.

        The whole live set goes in one request (about 150 bytes a resource, so some 6,000 resources fit
        the catalog's default 1 MiB body limit). Chunking belongs here, and only here: split ``live``, add
        ``"chunk": {"index": i, "count": n}`` to each body as the catalog's contract says, and merge the
        answers, so callers keep seeing one reconciliation."""
        return self._call("POST", "/api/v1/registrations/reconcile", correlation_id,
                          {"scope": {"namespace": namespace}, "live": live})

    def claim(self, runner_id: str, max_items: int, wait_seconds: int) -> tuple[list[dict[str, Any]], datetime]:
        """Claims up to ``max_items`` pending executions of the key's cluster, waiting up to ``wait_seconds``
        for one to be ready. Returns the items and the catalog's clock at the answer (its ``Date`` header,
        else ours), against which each item's ``lease_expires_at`` is measured, so a skewed node clock does
        not shorten or stretch the lease."""
        response = self._send("POST", "/api/v1/executions/claim", f"claim.{runner_id}",
                              {"runner_id": runner_id, "max": max_items, "wait_seconds": wait_seconds},
                              timeout=wait_seconds + self.timeout)
        items = response.json().get("items")
        return (items if isinstance(items, list) else []), answered_at(response.headers.get("Date"))

    def report(self, execution_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Reports an execution's status. Raises CatalogRejected for 403, 404 and 409 too (retrying the same
        report cannot help: another cluster's execution, an unknown one, or one already final)."""
        return self._send("PATCH", f"/api/v1/executions/{execution_id}", execution_id, body,
                          refusal_is_final=True).json()

    def _call(self, method: str, path: str, correlation_id: str, payload: Any = None) -> dict[str, Any]:
        return self._send(method, path, correlation_id, payload).json()

    def _send(self, method: str, path: str, correlation_id: str, payload: Any = None, timeout: float | None = None,
              refusal_is_final: bool = False) -> requests.Response:
        """Retries connection errors, 408, 425, 429 and 5xx with jittered exponential backoff; other 4xx raise
        CatalogRejected, except 401 and 403 (our key, not the request: CatalogUnavailable, retried later),
        unless ``refusal_is_final`` makes a 403 a CatalogRejected as well."""
        url = self.base_url + path
        body = None if payload is None else json.dumps(payload).encode()
        last = "no attempt made"
        for attempt in range(self.attempts):
            if attempt and self.stop.wait(min(30.0, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)):
                break
            headers = {"Content-Type": "application/json", "Accept": "application/json",
                       "X-Correlation-Id": correlation_id, **self.auth.headers(method, url, body)}
            try:
                response = self.http.request(method, url, data=body, headers=headers, timeout=timeout or self.timeout)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300:
                return response
            try:
                problem = response.json()
            except ValueError:
                problem = None
            if not isinstance(problem, dict):  # e.g. a load balancer's HTML page
                problem = {"title": response.reason or f"HTTP {response.status_code}"}
            last = f"HTTP {response.status_code}: {describe_problem(problem)}"
            if response.status_code == 401 or (response.status_code == 403 and not refusal_is_final):
                raise CatalogUnavailable(f"{method} {path}: {last}")
            if response.status_code not in RETRIABLE:
                raise CatalogRejected(response.status_code, problem)
        raise CatalogUnavailable(f"{method} {path} failed after {self.attempts} attempts ({last})")
