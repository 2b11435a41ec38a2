"""JSON secrets from Secrets Manager, cached per warm process.

A Lambda environment serves thousands of requests; asking Secrets Manager on every connection would
add latency and cost and hit its API quota. The value is kept for ``ttl_seconds`` so that a rotated
password is picked up by the next connection after expiry without redeploying.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.aws.clients import client

DEFAULT_TTL_SECONDS = 900.0


class SecretError(RuntimeError):
    """The secret exists but is not a JSON object (operators must fix the secret, not retry)."""


class SecretCache:
    def __init__(self, region: str | None = None, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._region = region
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, dict[str, Any]]] = {}

    def json(self, secret_id: str) -> dict[str, Any]:
        """The secret's JSON object, read at most once per ``ttl_seconds``."""
        now = self._clock()
        with self._lock:
            cached = self._values.get(secret_id)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
        response = client("secretsmanager", self._region).get_secret_value(SecretId=secret_id)
        try:
            value = json.loads(response["SecretString"])
        except (KeyError, json.JSONDecodeError):
            value = None
        if not isinstance(value, dict):
            # Never include the secret's text in the message: it would end up in the logs.
            raise SecretError(f"secret {secret_id} must hold a JSON object")
        with self._lock:
            self._values[secret_id] = (now, value)
        return value
