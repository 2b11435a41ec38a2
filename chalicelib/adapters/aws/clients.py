"""boto3 clients, built on first use and kept for the life of the process (one per service+region).

Importing boto3 costs a few hundred milliseconds and each client tens more; most requests never
touch AWS, so a cold start must not pay for it: boto3 is imported inside ``client()``, never at
module import. Clients are thread-safe once built; the lock only guards building them, because the
local server serves on threads.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[tuple[str, str | None], Any] = {}


def client(service: str, region: str | None = None) -> Any:
    """The process-wide client for ``service`` in ``region`` (None: the region of the environment)."""
    key = (service, region)
    built = _clients.get(key)
    if built is None:
        with _lock:
            built = _clients.get(key)
            if built is None:
                import boto3  # deferred on purpose, see the module docstring

                built = boto3.session.Session().client(service, region_name=region)
                _clients[key] = built
    return built


def reset_clients() -> None:
    """Forgets every client (tests start moto after the first client may have been built; a SnapStart
    restore must not use the snapshot's credentials). Secret providers hold clients too: see
    ``secrets.forget_secrets``."""
    with _lock:
        _clients.clear()
