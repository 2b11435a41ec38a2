"""Watcher configuration from environment variables (names fixed by the configuration document)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


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


def load_config(env: Mapping[str, str] | None = None) -> WatcherConfig:
    """Parses and validates the environment; a bad value raises ConfigError naming the variable."""
    env = os.environ if env is None else env
    url = env.get("CATALOG_URL", "").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError("CATALOG_URL must be the http(s) base URL of the catalog API")
    auth = env.get("CATALOG_AUTH", "bearer").strip().lower() or "bearer"
    if auth not in ("bearer", "sigv4"):
        raise ConfigError("CATALOG_AUTH must be 'bearer' or 'sigv4'")
    key_file = env.get("CATALOG_API_KEY_FILE", "").strip() or None
    if auth == "bearer" and (key_file is None or not os.path.isfile(key_file)):
        raise ConfigError("CATALOG_API_KEY_FILE must name a readable file holding the API key (a mounted Secret)")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
    if auth == "sigv4" and region is None:
        raise ConfigError("CATALOG_AUTH=sigv4 needs AWS_REGION (the region of the catalog API)")
    return WatcherConfig(
        catalog_url=url,
        api_key_file=key_file,
        auth=auth,
        namespace=env.get("WATCH_NAMESPACE", "").strip(),
        resync_seconds=_number(env, "RESYNC_SECONDS", 300.0, minimum=1.0),
        health_port=int(_number(env, "HEALTH_PORT", 8080, minimum=0, maximum=65535)),
        aws_region=region,
        log_level=_log_level(env),
    )


def _log_level(env: Mapping[str, str]) -> str:
    level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _number(env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float = 1e9) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum:g} and {maximum:g}")
    return value
