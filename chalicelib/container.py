"""Composition root: builds the adapters and services once per process from the settings.

Nothing else constructs infrastructure; handlers ask for ``services()``. Services, heavy and
AWS-only dependencies are imported inside the builders, so a cold start pays only for what it uses
(the authorizer, for one, needs nothing but the API keys).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.config import Settings, settings
from chalicelib.services.api_keys import ApiKeyService
from chalicelib.stores.db import Database, dsn_factory

if TYPE_CHECKING:
    from chalicelib.adapters.dispatch import Dispatcher
    from chalicelib.adapters.registry import RegistryClient
    from chalicelib.domain.signature_policy import SignatureVerifier
    from chalicelib.services.catalog import CatalogService
    from chalicelib.services.executions import ExecutionService
    from chalicelib.services.registration import RegistrationJob, RegistrationService
    from chalicelib.services.search import SearchService


@dataclass
class Services:
    settings: Settings

    @cached_property
    def db(self) -> Database:
        return Database(dsn_factory(_database_dsn(self.settings)))

    @cached_property
    def catalog(self) -> CatalogService:
        from chalicelib.services.catalog import CatalogService

        return CatalogService(self.db, indexer=self.search)

    @cached_property
    def search(self) -> SearchService:
        from chalicelib.adapters.embeddings.factory import make_embedder
        from chalicelib.services.search import SearchService

        return SearchService(self.db, make_embedder(self.settings))

    @cached_property
    def api_keys(self) -> ApiKeyService:
        return ApiKeyService(self.db)

    @cached_property
    def executions(self) -> ExecutionService:
        from chalicelib.services.executions import ExecutionService

        return ExecutionService(self.db)

    @cached_property
    def registry(self) -> RegistryClient:
        from chalicelib.adapters.registry import ConfiguredCredentials, RegistryClient

        cfg = self.settings
        credentials = ConfiguredCredentials(cfg.registry_credentials)
        return RegistryClient(credentials, cfg.insecure_registries, cfg.image_platform)

    @cached_property
    def registration_job(self) -> RegistrationJob:
        from chalicelib.services.registration import RegistrationJob

        return RegistrationJob(self.db, self.catalog, self.registry, self.signatures)

    @cached_property
    def signatures(self) -> SignatureVerifier | None:
        """Image signature checks per SIGNATURE_POLICY_FILE; None when unset (no verification)."""
        if self.settings.signature_policy is None:
            return None
        from chalicelib.adapters.signatures import CosignVerifier

        return CosignVerifier(self.registry, self.settings.signature_policy)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        from chalicelib.adapters.dispatch import InlineDispatcher, SqsDispatcher

        if self.settings.dispatcher == "sqs":
            queue_url = self.settings.registration_queue_url
            assert queue_url is not None, "load_settings requires REGISTRATION_QUEUE_URL with DISPATCHER=sqs"
            return SqsDispatcher(queue_url)
        return InlineDispatcher(self.registration_job)

    @cached_property
    def registrations(self) -> RegistrationService:
        from chalicelib.services.registration import RegistrationService

        return RegistrationService(self.db, self.dispatcher)


def _database_dsn(cfg: Settings) -> str | Callable[[], str]:
    # AWS first: with IAM auth DATABASE_URL names the proxy but carries no password.
    if cfg.database_iam_auth or cfg.database_secret_arn:
        from chalicelib.adapters.aws.database import aws_dsn

        return aws_dsn(cfg)
    if cfg.database_url:
        return cfg.database_url
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
