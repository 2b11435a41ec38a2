"""JSON secrets from Secrets Manager, cached per warm process: the one secret cache of the service.

A Lambda environment serves thousands of requests; asking Secrets Manager on every connection or
registry pull would add latency and cost and hit its API quota. aws-lambda-powertools' parameters
utility (already a dependency, for logging) does the caching: a value is kept ``max_age`` seconds,
so a rotated password is picked up after expiry without redeploying. The database DSN and the
registry credentials both read through here. Its boto3 client comes from ``clients.client`` (built
on first use; after a SnapStart restore ``reset_clients`` also drops these providers).
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.adapters.aws import clients

DEFAULT_TTL_SECONDS = 900

_lock = threading.Lock()
_providers: dict[str | None, Any] = {}


class SecretError(RuntimeError):
    """The secret cannot be used (missing, not readable, or not a JSON object); never quotes its value."""


def secret_json(secret_id: str, region: str | None = None, max_age: int = DEFAULT_TTL_SECONDS) -> dict[str, Any]:
    """The secret's JSON object, read from Secrets Manager at most once per ``max_age`` seconds."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

    try:
        value = _provider(region).get(secret_id, max_age=max_age, transform="json")
    except TransformParameterError:
        value = None
    except GetParameterError as exc:
        raise SecretError(f"secret {secret_id} could not be read ({_cause(exc)})") from None
    if not isinstance(value, dict):
        # Never include the secret's text in the message: it would end up in the logs.
        raise SecretError(f"secret {secret_id} must hold a JSON object")
    return value


def _provider(region: str | None) -> Any:
    with _lock:
        provider = _providers.get(region)
        if provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            provider = _providers[region] = SecretsProvider(boto3_client=clients.client("secretsmanager", region))
    return provider


def forget_secrets() -> None:
    """Drops the cached values and providers (with the boto3 clients, e.g. after a SnapStart restore)."""
    with _lock:
        _providers.clear()


def _cause(exc: Exception) -> str:
    """The AWS error code of a failed read (never the secret), e.g. ResourceNotFoundException."""
    text = str(exc)
    return text.split("(", 1)[1].split(")", 1)[0] if "(" in text else type(exc).__name__
