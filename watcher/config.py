"""Configuration from environment variables (names fixed by the configuration document), and JSON logs.

The logs are a dozen lines of stdlib logging rather than aws-lambda-powertools: the watcher runs in a
cluster, not in Lambda, and must stay independent of the service's packages.
"""

import json
import logging
import os
import re
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

logger = logging.getLogger("watcher")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class WatcherConfig:
    catalog_url: str
    api_key_file: str | None = None
    auth: str = "bearer"
    namespace: str = ""
    resync_seconds: float = 300.0
    health_port: int = 8080
    aws_region: str | None = None
    log_level: str = "INFO"
    # The runner (watcher/runner.py): runs this cluster's executions.
    runner_enabled: bool = True
    run_namespace: str = "kubernaut-workflows"
    runner_concurrency: int = 4
    runner_id: str = "watcher"
    # How the runner asks for work (docs/watcher.md, "The runner"; docs/deploy.md, "Idle runners"): each claim
    # waits up to claim_wait_seconds at the catalog (a long poll), and after a claim that brought nothing new the
    # runner pauses claim_interval_seconds. The defaults suit a catalog on Lambda, where a waiting claim is billed.
    claim_wait_seconds: int = 0
    claim_interval_seconds: float = 5.0


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def load_config(env: Mapping[str, str] | None = None) -> WatcherConfig:
    env = os.environ if env is None else env
    url = env.get("CATALOG_URL", "").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError("CATALOG_URL must be the http(s) base URL of the catalog API")
    auth = _choice(env, "CATALOG_AUTH", ("bearer", "sigv4"))
    key_file = env.get("CATALOG_API_KEY_FILE", "").strip() or None
    if auth == "bearer" and (key_file is None or not os.path.isfile(key_file)):
        raise ConfigError("CATALOG_API_KEY_FILE must name a readable file holding the API key (a mounted Secret)")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
    if auth == "sigv4" and region is None:
        raise ConfigError("CATALOG_AUTH=sigv4 needs AWS_REGION (the region of the catalog API)")
    return WatcherConfig(
        catalog_url=url, api_key_file=key_file, auth=auth, namespace=env.get("WATCH_NAMESPACE", "").strip(),
        resync_seconds=_number(env, "RESYNC_SECONDS", 300.0, minimum=1.0),
        health_port=int(_number(env, "HEALTH_PORT", 8080, minimum=0, maximum=65535)), aws_region=region,
        log_level=_choice(env, "LOG_LEVEL", ("INFO", "DEBUG", "WARNING", "ERROR", "CRITICAL")),
        runner_enabled=_choice(env, "RUNNER_ENABLED", ("true", "false")) == "true",
        run_namespace=_run_namespace(env), runner_id=_runner_id(env),
        # At most the catalog's limit per claim: a claim asks for as many as the runner has free slots.
        runner_concurrency=int(_number(env, "RUNNER_CONCURRENCY", 4, minimum=1, maximum=10, integer=True)),
        claim_wait_seconds=int(_number(env, "CLAIM_WAIT_SECONDS", 0, minimum=0, maximum=20, integer=True)),
        claim_interval_seconds=_number(env, "CLAIM_INTERVAL_SECONDS", 5.0, minimum=0, maximum=300),
    )


def _run_namespace(env: Mapping[str, str]) -> str:
    namespace = env.get("RUN_NAMESPACE", "").strip() or "kubernaut-workflows"
    if not DNS_LABEL.match(namespace):
        raise ConfigError("RUN_NAMESPACE must be a namespace name (a DNS-1123 label: lowercase letters, digits, '-')")
    return namespace


def _runner_id(env: Mapping[str, str]) -> str:
    """Stable across restarts of the pod (its hostname is the pod's name), so a restarted runner gets back the
    executions it had claimed at once instead of waiting for their leases to lapse."""
    runner_id = env.get("RUNNER_ID", "").strip() or socket.gethostname()
    if not 1 <= len(runner_id) <= 253 or CONTROL.search(runner_id):
        raise ConfigError("RUNNER_ID must be 1 to 253 characters without control characters")
    return runner_id


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    """The value among ``allowed`` (any case); the first one is the default."""
    value = env.get(name, "").strip() or allowed[0]
    for option in allowed:
        if option.lower() == value.lower():
            return option
    raise ConfigError(f"{name} must be one of {', '.join(allowed)}")


def _number(env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float = 1e9,
            integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if integer and not value.is_integer():
        raise ConfigError(f"{name} must be a whole number, got {raw!r}")
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum:g} and {maximum:g}")
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "service": "remediation-workflow-watcher", "message": record.getMessage(),
                **getattr(record, "fields", {})}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # The Kubernetes client logs every response body at DEBUG, the runner's Secrets (writeOnly values) included.
    logging.getLogger("kubernetes.client.rest").setLevel(logging.INFO)


def log(level: int, message: str, exc_info: bool = False, **ids: object) -> None:
    """One JSON line carrying the ids people search by (None values left out)."""
    extra = {"fields": {key: value for key, value in ids.items() if value is not None}}
    logger.log(level, message, exc_info=exc_info, extra=extra)
