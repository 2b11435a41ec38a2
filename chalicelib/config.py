"""Configuration from environment variables, parsed and validated in one place at start-up.

Every name is documented in the README's configuration table (other components and operators rely on them). A bad value
raises ConfigError naming the variable, which stops start-up.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.domain.config_error import ConfigError
from chalicelib.domain.egress import parse_destination
from chalicelib.domain.guards import DEFAULTS, GuardSettings
from chalicelib.domain.limits import EFFECTIVENESS_WINDOW_BOUNDS, GUARD_SETTING_BOUNDS, MAX_CLAIM_WAIT_SECONDS
from chalicelib.domain.notifications import parse_webhook_url, webhook_egress_rules

if TYPE_CHECKING:
    from chalicelib.domain.signature_policy import SignaturePolicy


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_WEBHOOK_SECRET_LENGTH = 16  # an HMAC key shorter than this is guessable
SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$")
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$")
DISPATCHERS = ("inline", "sqs")
EMBEDDING_PROVIDERS = ("default", "sentence-transformers", "bedrock")


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    database_secret_arn: str | None = None
    database_iam_auth: bool = False
    data_dir: str = ".var"
    port: int = 8000
    dev_api_key: str | None = None
    dispatcher: str = "inline"
    registration_queue_url: str | None = None
    embedding_provider: str = "default"
    embedding_dimensions: int | None = None
    bedrock_model_id: str = "amazon.titan-embed-text-v2:0"
    log_level: str = "INFO"
    registry_credentials: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    insecure_registries: tuple[str, ...] = ()  # host[:port] over plain HTTP, any address
    private_registries: tuple[str, ...] = ()  # host[:port] over HTTPS, any address
    registry_allowlist: tuple[str, ...] | None = None  # fnmatch patterns of host[:port]; None: any registry
    image_platform: str = "linux/amd64"
    signature_policy_file: str | None = None
    signature_policy: SignaturePolicy | None = None  # the parsed SIGNATURE_POLICY_FILE
    max_body_bytes: int = 1024 * 1024
    aws_region: str | None = None
    database_pool_size: int | None = None  # None: 1 in Lambda, a few for the local server's threads
    registration_lease_seconds: int = 60
    registration_sweep_seconds: int = 30
    reconcile_grace_seconds: int = 60
    approval_ttl_seconds: int = 3600
    claim_lease_seconds: int = 60  # how long a runner holds a claimed execution without reporting
    approval_kms_key_id: str | None = None  # seals writeOnly values held for an approval (AWS)
    approval_key_secret_arn: str | None = None  # or: a Secrets Manager secret holding the data key (AWS)
    notify_webhook_url: str | None = None  # where notifications are posted (validated: parse_webhook_url)
    notify_webhook_secret: str | None = field(default=None, repr=False)  # the HMAC key of the signature
    notify_webhook_secret_arn: str | None = None  # or: a Secrets Manager secret {"webhook_secret": ...} (AWS)
    notify_private_destinations: tuple[str, ...] = ()  # host[:port] the webhook may reach on private addresses
    notify_topic_arn: str | None = None  # SNS topic of notifications (AWS)
    guard_defaults: GuardSettings = DEFAULTS  # DEFAULT_<SETTING> of every guard setting a workflow leaves unset
    effectiveness_window_seconds: int = 600  # after a success, how long its alerts must stay resolved


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _optional_int(env, name, low, high)
    return default if value is None else value


def _optional_int(env: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...], upper: bool = False) -> str:
    raw = (env.get(name) or default).strip()
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


def _credentials(env: Mapping[str, str]) -> dict[str, Mapping[str, object]]:
    raw = env.get("REGISTRY_CREDENTIALS")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"REGISTRY_CREDENTIALS is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError("REGISTRY_CREDENTIALS must be a JSON object of host -> object")
    for host, entry in value.items():
        if not ({"username", "password"} <= set(entry) or "secret_arn" in entry or entry.get("ecr") is True):
            raise ConfigError(f'REGISTRY_CREDENTIALS[{host!r}] needs username+password, secret_arn, or "ecr": true')
    return value


def _destinations(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of host[:port], each checked (chalicelib/domain/egress.py)."""
    entries = tuple(entry.strip() for entry in (env.get(name) or "").split(",") if entry.strip())
    for entry in entries:
        try:
            parse_destination(entry)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    return entries


def _arn(env: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not pattern.match(raw):
        raise ConfigError(f"{name} must be {what}, not {raw[:200]!r}")
    return raw


def _check_webhook(settings: Settings) -> None:
    """NOTIFY_WEBHOOK_URL: a usable URL, plain HTTP only to a listed destination, and a signing key."""
    if settings.notify_webhook_secret and settings.notify_webhook_secret_arn:
        raise ConfigError("set NOTIFY_WEBHOOK_SECRET or NOTIFY_WEBHOOK_SECRET_ARN, not both")
    if settings.notify_webhook_secret is not None and len(settings.notify_webhook_secret) < MIN_WEBHOOK_SECRET_LENGTH:
        raise ConfigError(f"NOTIFY_WEBHOOK_SECRET must be at least {MIN_WEBHOOK_SECRET_LENGTH} characters long")
    if settings.notify_webhook_url is None:
        return
    try:
        url = parse_webhook_url(settings.notify_webhook_url)
    except ValueError as exc:
        raise ConfigError(f"NOTIFY_WEBHOOK_URL {exc}") from None
    rules = webhook_egress_rules(settings.notify_private_destinations)
    if url.scheme == "http" and not rules.plain_http_allowed(url.host, url.port):
        raise ConfigError(f"NOTIFY_WEBHOOK_URL uses plain HTTP, which goes only to destinations listed in "
                          f"NOTIFY_PRIVATE_DESTINATIONS; use https:// or list {url.destination} there")
    if not (settings.notify_webhook_secret or settings.notify_webhook_secret_arn):
        raise ConfigError("NOTIFY_WEBHOOK_URL needs a signing key: set NOTIFY_WEBHOOK_SECRET "
                          "(or NOTIFY_WEBHOOK_SECRET_ARN in AWS)")


def _guard_defaults(env: Mapping[str, str]) -> GuardSettings:
    """DEFAULT_COOLDOWN_SECONDS, DEFAULT_MAX_CONSECUTIVE_FAILURES, DEFAULT_MAX_EXECUTIONS_PER_HOUR and
    DEFAULT_MAX_CONCURRENT, each within the bounds a workflow's own setting has."""
    return GuardSettings(**{
        name: _int(env, f"DEFAULT_{name.upper()}", getattr(DEFAULTS, name), low, high)
        for name, (low, high) in GUARD_SETTING_BOUNDS.items()
    })


def _allowlist(env: Mapping[str, str]) -> tuple[str, ...] | None:
    raw = env.get("REGISTRY_ALLOWLIST")
    if raw is None or raw.strip() == "":
        return None  # unset: registrations may name any registry
    patterns = tuple(pattern.strip() for pattern in raw.split(",") if pattern.strip())
    for pattern in patterns:
        if "/" in pattern or any(c.isspace() for c in pattern):
            raise ConfigError(f"REGISTRY_ALLOWLIST: {pattern!r} is not a host[:port] pattern (no '/', no whitespace)")
    if not patterns:
        raise ConfigError(f"REGISTRY_ALLOWLIST names no pattern: {raw!r}")
    return patterns


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    settings = Settings(
        database_url=env.get("DATABASE_URL") or None,
        database_secret_arn=env.get("DATABASE_SECRET_ARN") or None,
        database_iam_auth=_bool(env, "DATABASE_IAM_AUTH", False),
        data_dir=env.get("CATALOG_DATA_DIR") or ".var",
        port=_int(env, "PORT", 8000, 0, 65535),  # 0: a free port (tests, benchmarks)
        dev_api_key=env.get("DEV_API_KEY") or None,
        dispatcher=_choice(env, "DISPATCHER", "inline", DISPATCHERS),
        registration_queue_url=env.get("REGISTRATION_QUEUE_URL") or None,
        embedding_provider=_choice(env, "EMBEDDING_PROVIDER", "default", EMBEDDING_PROVIDERS),
        # pgvector's HNSW index takes at most 2000 dimensions.
        embedding_dimensions=_optional_int(env, "EMBEDDING_DIMENSIONS", 8, 2000),
        bedrock_model_id=env.get("BEDROCK_MODEL_ID") or "amazon.titan-embed-text-v2:0",
        log_level=_choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
        registry_credentials=_credentials(env),
        insecure_registries=_destinations(env, "INSECURE_REGISTRIES"),
        private_registries=_destinations(env, "PRIVATE_REGISTRIES"),
        registry_allowlist=_allowlist(env),
        image_platform=env.get("IMAGE_PLATFORM") or "linux/amd64",
        signature_policy_file=env.get("SIGNATURE_POLICY_FILE") or None,
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024, 1024, 6 * 1024 * 1024),
        aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        database_pool_size=_optional_int(env, "DATABASE_POOL_SIZE", 1, 200),
        registration_lease_seconds=_int(env, "REGISTRATION_LEASE_SECONDS", 60, 3, 3600),
        registration_sweep_seconds=_int(env, "REGISTRATION_SWEEP_SECONDS", 30, 1, 3600),
        reconcile_grace_seconds=_int(env, "RECONCILE_GRACE_SECONDS", 60, 0, 3600),
        approval_ttl_seconds=_int(env, "APPROVAL_TTL_SECONDS", 3600, 1, 7 * 24 * 3600),
        # At least a claim's longest wait and more: a claim answers with the leases it renewed when it began.
        claim_lease_seconds=_int(env, "CLAIM_LEASE_SECONDS", 60, 2 * MAX_CLAIM_WAIT_SECONDS, 3600),
        approval_kms_key_id=env.get("APPROVAL_KMS_KEY_ID") or None,
        approval_key_secret_arn=env.get("APPROVAL_KEY_SECRET_ARN") or None,
        notify_webhook_url=env.get("NOTIFY_WEBHOOK_URL") or None,
        notify_webhook_secret=env.get("NOTIFY_WEBHOOK_SECRET") or None,
        notify_webhook_secret_arn=_arn(env, "NOTIFY_WEBHOOK_SECRET_ARN", SECRET_ARN, "a Secrets Manager secret ARN"),
        notify_private_destinations=_destinations(env, "NOTIFY_PRIVATE_DESTINATIONS"),
        notify_topic_arn=_arn(env, "NOTIFY_TOPIC_ARN", TOPIC_ARN, "an SNS topic ARN"),
        guard_defaults=_guard_defaults(env),
        effectiveness_window_seconds=_int(env, "EFFECTIVENESS_WINDOW_SECONDS", 600, *EFFECTIVENESS_WINDOW_BOUNDS),
    )
    _check_webhook(settings)
    if settings.approval_kms_key_id and settings.approval_key_secret_arn:
        raise ConfigError("set APPROVAL_KMS_KEY_ID or APPROVAL_KEY_SECRET_ARN, not both")
    if env.get("AWS_LAMBDA_FUNCTION_NAME") and not (settings.approval_kms_key_id or settings.approval_key_secret_arn):
        # The local key file would live in one execution environment's /tmp: values sealed by one
        # environment could not be opened by another.
        raise ConfigError("APPROVAL_KMS_KEY_ID (or APPROVAL_KEY_SECRET_ARN) is required in AWS Lambda: it seals the "
                          "writeOnly values executions hold until their runner reports them running")
    if settings.dispatcher == "sqs" and not settings.registration_queue_url:
        raise ConfigError("REGISTRATION_QUEUE_URL is required when DISPATCHER=sqs")
    if settings.image_platform.count("/") not in (1, 2):
        raise ConfigError(f"IMAGE_PLATFORM must look like os/arch[/variant], not {settings.image_platform!r}")
    bedrock_dimensions = (256, 512, 1024)
    if settings.embedding_provider == "bedrock" and settings.embedding_dimensions not in (None, *bedrock_dimensions):
        raise ConfigError("EMBEDDING_DIMENSIONS must be 256, 512 or 1024 with the bedrock provider")
    if settings.signature_policy_file:
        # Parsed here so that a broken signature policy stops start-up, not the first registration.
        settings = replace(settings, signature_policy=_signature_policy(settings.signature_policy_file))
    return settings


def _signature_policy(path: str) -> SignaturePolicy:
    """Reads and validates the policy file; ConfigError says what is wrong and where."""
    from chalicelib.domain.signature_policy import parse_policy

    where = f"SIGNATURE_POLICY_FILE ({path})"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} cannot be read: {exc}") from None
    return parse_policy(text, where)


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
