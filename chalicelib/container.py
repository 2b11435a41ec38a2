"""Composition root: builds the adapters and services once per process from the settings.

Nothing else constructs infrastructure; handlers ask for ``services()``. Services, heavy and
AWS-only dependencies are imported inside the builders, so a cold start pays only for what it uses
(the authorizer, for one, needs nothing but the API keys).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings, settings
from chalicelib.observability import logger
from chalicelib.services.api_keys import ApiKeyService
from chalicelib.stores.db import Database, dsn_factory

if TYPE_CHECKING:
    from chalicelib.adapters.dispatch import Dispatcher
    from chalicelib.adapters.registry import RegistryClient
    from chalicelib.domain.contracts import Contract
    from chalicelib.domain.signature_policy import SignatureVerifier
    from chalicelib.services.alerts import AlertService
    from chalicelib.services.executions import ExecutionService, SecretSealer
    from chalicelib.services.maintenance import Maintenance
    from chalicelib.services.notifications import Channel, NotificationDelivery
    from chalicelib.services.recommendations import RecommendationService
    from chalicelib.services.registration import Leases, RegistrationJob, RegistrationService
    from chalicelib.services.search import SearchService
    from chalicelib.services.workflows import WorkflowService


def built_once[T](build: Callable[[Any], T]) -> T:
    """A lazily built, cached property that is built once even when threads ask at the same moment.

    ``functools.cached_property`` has no lock: two request threads (or a request and the registration
    sweeper) asking for ``dispatcher`` at once would each build one, and live on with different
    instances (two job pools, two caches).
    """
    name = build.__name__

    @functools.wraps(build)
    def get(self: Services) -> T:
        built = self.__dict__.get(name, _UNBUILT)
        if built is _UNBUILT:
            with self._build_lock:  # re-entrant: builders ask for what they need
                built = self.__dict__.get(name, _UNBUILT)
                if built is _UNBUILT:
                    built = self.__dict__[name] = build(self)
        return built

    return property(get)  # type: ignore[return-value]


_UNBUILT = object()


@dataclass
class Services:
    settings: Settings
    _build_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        logger.setLevel(self.settings.log_level)  # LOG_LEVEL, validated with the rest of the settings

    @built_once
    def db(self) -> Database:
        return Database(dsn_factory(_database_dsn(self.settings)), self.settings.database_pool_size)

    @built_once
    def workflows(self) -> WorkflowService:
        from chalicelib.services.workflows import WorkflowService

        return WorkflowService(self.db, indexer=self.search, guard_defaults=self.settings.guard_defaults)

    @built_once
    def search(self) -> SearchService:
        from chalicelib.adapters.embeddings.factory import make_embedder
        from chalicelib.services.search import SearchService

        return SearchService(self.db, make_embedder(self.settings))

    @built_once
    def api_keys(self) -> ApiKeyService:
        return ApiKeyService(self.db)

    @built_once
    def executions(self) -> ExecutionService:
        from chalicelib.services.executions import ExecutionService

        cfg = self.settings
        return ExecutionService(self.db, self.sealer, cfg.approval_ttl_seconds, cfg.guard_defaults,
                                cfg.claim_lease_seconds, cfg.effectiveness_window_seconds)

    @built_once
    def sealer(self) -> SecretSealer:
        """Seals the writeOnly values executions hold until their runner reports them running: KMS or a Secrets
        Manager data key in AWS (load_settings requires one there), else a key file in the data folder."""
        from chalicelib.adapters.sealing import DataKeySealer, KmsSealer, LocalKeySealer

        cfg = self.settings
        if cfg.approval_kms_key_id:
            return KmsSealer(cfg.approval_kms_key_id, cfg.aws_region)
        if cfg.approval_key_secret_arn:
            return DataKeySealer(cfg.approval_key_secret_arn, cfg.aws_region)
        return LocalKeySealer(Path(cfg.data_dir) / "approval-secrets.key")

    @built_once
    def notifications(self) -> NotificationDelivery:
        """Delivers the notification outbox to the configured channels (none: it only keeps the outbox)."""
        from chalicelib.services.notifications import NotificationDelivery

        return NotificationDelivery(self.db, self.notification_channels)

    @built_once
    def notification_channels(self) -> list[Channel]:
        """The signed webhook (NOTIFY_WEBHOOK_URL) and the SNS topic (NOTIFY_TOPIC_ARN), those configured."""
        cfg = self.settings
        channels: list[Channel] = []
        if cfg.notify_webhook_url:
            from chalicelib.adapters.egress import EgressGuard
            from chalicelib.adapters.webhook import WebhookChannel, configured_key, secrets_manager_key
            from chalicelib.domain.notifications import parse_webhook_url, webhook_egress_rules

            if cfg.notify_webhook_secret_arn:
                key = secrets_manager_key(cfg.notify_webhook_secret_arn, cfg.aws_region)
            else:
                assert cfg.notify_webhook_secret, "load_settings requires a signing key with NOTIFY_WEBHOOK_URL"
                key = configured_key(cfg.notify_webhook_secret)
            guard = EgressGuard(webhook_egress_rules(cfg.notify_private_destinations))
            channels.append(WebhookChannel(parse_webhook_url(cfg.notify_webhook_url), key, guard))
        if cfg.notify_topic_arn:
            from chalicelib.adapters.aws.sns import SnsChannel

            channels.append(SnsChannel(cfg.notify_topic_arn, cfg.aws_region))
        return channels

    @built_once
    def maintenance(self) -> Maintenance:
        from chalicelib.services.effectiveness import EffectivenessService
        from chalicelib.services.maintenance import Maintenance

        return Maintenance(self.registrations, self.executions, self.notifications, EffectivenessService(self.db))

    @built_once
    def recommendations(self) -> RecommendationService:
        from chalicelib.services.recommendations import RecommendationService

        return RecommendationService(self.db)

    @built_once
    def alerts(self) -> AlertService:
        from chalicelib.services.alerts import AlertService

        return AlertService(self.db)

    @built_once
    def registry(self) -> RegistryClient:
        from chalicelib.adapters.registry import ConfiguredCredentials, RegistryClient, RegistryTransport
        from chalicelib.domain.egress import EgressRules

        cfg = self.settings
        credentials = ConfiguredCredentials(cfg.registry_credentials)
        rules = EgressRules.from_lists(cfg.insecure_registries, cfg.private_registries, cfg.registry_allowlist)
        return RegistryClient(credentials, RegistryTransport(rules), cfg.image_platform)

    @built_once
    def registration_job(self) -> RegistrationJob:
        from chalicelib.services.registration import RegistrationJob

        return RegistrationJob(self.db, self.workflows, self.registry, self.signatures, self.leases)

    @built_once
    def signatures(self) -> SignatureVerifier | None:
        """Image signature checks per SIGNATURE_POLICY_FILE; None when unset (no verification)."""
        if self.settings.signature_policy is None:
            return None
        from chalicelib.adapters.signatures import CosignVerifier

        return CosignVerifier(self.registry, self.settings.signature_policy)

    @built_once
    def dispatcher(self) -> Dispatcher:
        from chalicelib.adapters.dispatch import InlineDispatcher, SqsDispatcher

        if self.settings.dispatcher == "sqs":
            queue_url = self.settings.registration_queue_url
            assert queue_url is not None, "load_settings requires REGISTRATION_QUEUE_URL with DISPATCHER=sqs"
            return SqsDispatcher(queue_url)
        return InlineDispatcher(self.registration_job)

    @built_once
    def registrations(self) -> RegistrationService:
        from chalicelib.services.registration import RegistrationService

        return RegistrationService(self.db, self.dispatcher, self.leases, self.settings.reconcile_grace_seconds)

    @built_once
    def resource_contract(self) -> Contract:
        """What a RemediationWorkflow resource must satisfy: the CRD's own schema."""
        from chalicelib.adapters.crd import resource_contract

        return resource_contract()

    @built_once
    def leases(self) -> Leases:
        from chalicelib.services.registration import SQS_PENDING_SECONDS, Leases

        lease = float(self.settings.registration_lease_seconds)
        # With SQS, a pending job may wait in the queue (a backlog, or the visibility timeout before a
        # retry): only one pending far longer than that is lost. In-process, one is lost after a lease.
        pending = SQS_PENDING_SECONDS if self.settings.dispatcher == "sqs" else lease
        return Leases(seconds=lease, pending_seconds=pending)


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
