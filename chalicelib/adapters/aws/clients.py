"""boto3 clients, built on first use and kept for the life of the process (one per service+region).

Importing boto3 costs a few hundred milliseconds and each client tens more; most requests never
touch AWS, so a cold start must not pay for it: boto3 is imported inside ``client()``, never at
module import. Clients are thread-safe once built; the lock only guards building them, because the
local server serves on threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, Limits | None], Any] = {}


@dataclass(frozen=True)
class Limits:
    """Bounds on a client's calls, for callers that must return in time (botocore's defaults wait up to a
    minute per connect and per read, several times)."""

    connect_timeout: float
    read_timeout: float
    max_attempts: int


def client(service: str, region: str | None = None, limits: Limits | None = None) -> Any:
    """The process-wide client for ``service`` in ``region`` (None: the region of the environment)."""
    key = (service, region, limits)
    built = _clients.get(key)
    if built is None:
        with _lock:
            built = _clients.get(key)
            if built is None:
                import boto3  # deferred on purpose, see the module docstring
                from botocore.config import Config

                config = None if limits is None else Config(
                    connect_timeout=limits.connect_timeout, read_timeout=limits.read_timeout,
                    retries={"max_attempts": limits.max_attempts, "mode": "standard"})
                built = boto3.session.Session().client(service, region_name=region, config=config)
                _clients[key] = built
    return built


def reset_clients() -> None:
    """Forgets every client (tests start moto after the first client may have been built; a SnapStart
    restore must not use the snapshot's credentials). Secret providers hold clients too: see
    ``secrets.forget_secrets``."""
    with _lock:
        _clients.clear()
