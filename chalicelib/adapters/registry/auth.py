"""Registry authentication: where credentials come from, and the Basic / Bearer-token challenge flow.

Credentials per registry host come from ``REGISTRY_CREDENTIALS`` (username/password inline, a
Secrets Manager secret, or Amazon ECR). ECR hosts (``<account>.dkr.ecr.<region>.amazonaws.com``)
use ``ecr.get_authorization_token`` even without an entry, since the function's role is the
credential there. boto3 is imported lazily (chalicelib/adapters/aws/clients.py), so registries
without AWS cost nothing.

The token flow is the Docker one: a 401 carries ``WWW-Authenticate: Bearer realm=..,service=..,
scope=..``; we ask the realm for a token for exactly that scope (with Basic credentials when we
have them) and cache it per (host, scope) until it expires. The realm is fetched through the same
egress-checked transport as the registry (transport.py): a realm the registry points at a refused
destination is never contacted. Credentials and tokens are never
logged or put into error messages.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from chalicelib.adapters.aws import clients as aws_clients
from chalicelib.adapters.aws.secrets import SecretError, secret_json
from chalicelib.adapters.registry.errors import IMAGE_PULL_FAILED, RegistryError
from chalicelib.adapters.registry.transport import TOKEN_SERVICE, RegistryTransport

ECR_HOST = re.compile(r"^(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
# Refresh a cached credential this long before it expires, so a request never races expiry.
EXPIRY_MARGIN_SECONDS = 60
SECRET_MAX_AGE_SECONDS = 300
DEFAULT_TOKEN_SECONDS = 60


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"BasicCredentials(username={self.username!r}, password=***)"


class CredentialSource(Protocol):
    def credentials_for(self, host: str) -> BasicCredentials | None: ...


class ConfiguredCredentials:
    """Credentials from REGISTRY_CREDENTIALS (host -> username/password | secret_arn | ecr)."""

    def __init__(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        self._config = dict(config)
        self._ecr_tokens: dict[str, tuple[BasicCredentials, float]] = {}
        self._lock = threading.Lock()

    def credentials_for(self, host: str) -> BasicCredentials | None:
        entry = self._config.get(host)
        ecr = ECR_HOST.fullmatch(host)
        if entry is None and ecr is None:
            return None
        if entry is not None and "username" in entry:
            return BasicCredentials(str(entry["username"]), str(entry["password"]))
        if entry is not None and "secret_arn" in entry:
            return self._from_secret(host, str(entry["secret_arn"]))
        with self._lock:
            cached = self._ecr_tokens.get(host)
        if cached and cached[1] > time.time() + EXPIRY_MARGIN_SECONDS:
            return cached[0]
        credentials, expires = self._from_ecr(host, ecr.group("region") if ecr else None)
        with self._lock:
            self._ecr_tokens[host] = (credentials, expires)
        return credentials

    def _from_secret(self, host: str, arn: str) -> BasicCredentials:
        """From the service's one secret cache (rotation is seen within SECRET_MAX_AGE_SECONDS)."""
        try:
            value = secret_json(arn, _region_of_arn(arn), max_age=SECRET_MAX_AGE_SECONDS)
            return BasicCredentials(str(value["username"]), str(value["password"]))
        except (SecretError, KeyError) as exc:  # unreadable, not JSON, or missing keys: no usable credentials
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"Could not read the credentials of registry {host} from Secrets Manager "
                f"({type(exc).__name__}); the secret must hold JSON with username and password.",
            ) from None

    def _from_ecr(self, host: str, region: str | None) -> tuple[BasicCredentials, float]:
        try:
            data = aws_clients.client("ecr", region).get_authorization_token()["authorizationData"][0]
            username, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
            expires_at = data.get("expiresAt")
            expires = expires_at.timestamp() if hasattr(expires_at, "timestamp") else time.time() + 3600
            return BasicCredentials(username, password), expires
        except Exception as exc:  # botocore errors and malformed tokens alike
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"Could not get an Amazon ECR token for {host} ({type(exc).__name__}); "
                "check the function role allows ecr:GetAuthorizationToken.",
                transient=True,
            ) from None


def _region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() not in ("basic", "bearer"):
        return None
    return Challenge(scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest)))


class Authenticator:
    """Answers registry challenges and remembers the answer per host (Basic) or (host, scope) (Bearer)."""

    def __init__(
        self, credentials: CredentialSource, transport: RegistryTransport, timeout: tuple[float, float]
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._timeout = timeout
        self._basic_hosts: set[str] = set()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def headers(self, host: str, scope: str) -> dict[str, str]:
        """The Authorization header known to work for this host and scope, sent up front."""
        with self._lock:
            token = self._tokens.get((host, scope))
            basic = host in self._basic_hosts
        if token and token[1] > time.time():
            return {"Authorization": f"Bearer {token[0]}"}
        if basic:
            credentials = self._credentials.credentials_for(host)
            if credentials:
                return {"Authorization": _basic_header(credentials)}
        return {}

    def answer(self, host: str, scope: str, www_authenticate: str | None) -> dict[str, str]:
        """Headers to retry a request that got 401, or a RegistryError saying why we cannot."""
        challenge = parse_challenge(www_authenticate or "")
        if challenge is None:
            raise RegistryError(
                IMAGE_PULL_FAILED, f"Registry {host} refused access without an authentication challenge we support."
            )
        credentials = self._credentials.credentials_for(host)
        if challenge.scheme == "basic":
            if credentials is None:
                raise RegistryError(
                    IMAGE_PULL_FAILED,
                    f"Registry {host} requires authentication and no credentials are configured for it "
                    "(REGISTRY_CREDENTIALS).",
                )
            with self._lock:
                self._basic_hosts.add(host)
            return {"Authorization": _basic_header(credentials)}
        token, lifetime = self._fetch_token(host, challenge, scope, credentials)
        with self._lock:
            # Renew at 80% of the lifetime so a token never expires between check and use.
            self._tokens[(host, scope)] = (token, time.time() + lifetime * 0.8)
        return {"Authorization": f"Bearer {token}"}

    def _fetch_token(
        self, host: str, challenge: Challenge, scope: str, credentials: BasicCredentials | None
    ) -> tuple[str, int]:
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise RegistryError(IMAGE_PULL_FAILED, f"Registry {host} sent a token challenge without a usable realm.")
        query = {"scope": challenge.params.get("scope") or scope}
        if "service" in challenge.params:
            query["service"] = challenge.params["service"]
        auth = (credentials.username, credentials.password) if credentials else None
        try:
            response = self._transport.get(
                realm, registry=host, service=TOKEN_SERVICE, params=query, auth=auth, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"The token service of registry {host} is unreachable ({type(exc).__name__}).",
                transient=True,
            ) from None
        if response.status_code in (401, 403):
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"The token service of registry {host} refused the "
                f"{'configured credentials' if credentials else 'anonymous request'} for {query['scope']}.",
            )
        if response.status_code != 200:
            raise RegistryError(
                IMAGE_PULL_FAILED,
                f"The token service of registry {host} answered HTTP {response.status_code}.",
                transient=response.status_code >= 500 or response.status_code == 429,
            )
        try:
            body = response.json()
            token = body.get("token") or body["access_token"]
            return str(token), int(body.get("expires_in") or DEFAULT_TOKEN_SECONDS)
        except (ValueError, KeyError, TypeError):
            raise RegistryError(
                IMAGE_PULL_FAILED, f"The token service of registry {host} answered without a token."
            ) from None


def _basic_header(credentials: BasicCredentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()
