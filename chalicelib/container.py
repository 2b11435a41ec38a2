"""Composition root: builds the adapters and services once per process from the settings.

Nothing else constructs infrastructure; handlers ask for ``services()``. Heavy or AWS-only
dependencies are imported inside the builders, so a cold start pays only for what it uses.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

from chalicelib.config import ConfigError, Settings, settings
from chalicelib.services.api_keys import ApiKeyService
from chalicelib.services.catalog import CatalogService
from chalicelib.stores.db import Database, dsn_factory


@dataclass
class Services:
    settings: Settings

    @cached_property
    def db(self) -> Database:
        return Database(dsn_factory(_database_dsn(self.settings)))

    @cached_property
    def catalog(self) -> CatalogService:
        return CatalogService(self.db)

    @cached_property
    def api_keys(self) -> ApiKeyService:
        return ApiKeyService(self.db)


def _database_dsn(cfg: Settings) -> str:
    if cfg.database_url:
        return cfg.database_url
    if cfg.database_secret_arn or cfg.database_iam_auth:
        raise ConfigError("DATABASE_SECRET_ARN / DATABASE_IAM_AUTH need the AWS database adapter (not wired yet)")
    from chalicelib.stores.embedded import start_embedded

    return start_embedded(f"{cfg.data_dir}/pgdata")


_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                _services = Services(settings())
    return _services


def reset_services(new: Services | None = None) -> None:
    """Replaces the process-wide services (tests and the local server use this)."""
    global _services
    _services = new
