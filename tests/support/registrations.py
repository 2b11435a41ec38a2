"""Registration tests' helpers: waiting for the in-process jobs, and the catalog as rows to compare."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.config import settings
from chalicelib.container import reset_services, services
from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.database import table_rows
from tests.support.resources import event

# Registration bookkeeping and credentials are not catalog content.
NOT_CATALOG = ("registrations", "api_keys", "schema_migrations")


def catalog_dump(db: Database, also: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every row of every catalog table (and of the tables named in ``also``, e.g. api_keys), as text, in a stable
    order."""
    return table_rows(db, skip=set(NOT_CATALOG) - set(also))


def wait_for_jobs() -> None:
    services().dispatcher.wait_idle(timeout=30)  # type: ignore[attr-defined]


@contextmanager
def catalog_settings(**env: str) -> Iterator[None]:
    """The process-wide settings and services rebuilt with these environment variables, for the block."""
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    settings.cache_clear()
    reset_services()
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        settings.cache_clear()
        reset_services()


REGISTRATIONS = "/api/v1/registrations"
READ = ("catalog:read",)
WRITE = ("registrations:write",)


def register(client: ApiClient, obj: dict[str, Any], kind: str = "ADDED", headers: dict[str, str] | None = None
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Delivers ``obj`` to the invoke endpoint (with a key of registrations:write, or the one in ``headers``) and waits
    for its job; returns (the 202 body, the finished registration)."""
    response = client.post(REGISTRATIONS, event(kind, obj), scopes=None if headers else WRITE, headers=headers)
    assert response.status == 202, response
    wait_for_jobs()
    registration = client.get(f"{REGISTRATIONS}/{response.json['registration_id']}", scopes=READ)
    assert registration.status == 200
    return response.json, registration.json
