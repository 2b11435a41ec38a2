"""Database DSNs for AWS: RDS IAM auth tokens through RDS Proxy, or a Secrets Manager secret.

Both are callables for ``chalicelib.stores.db.dsn_factory``, which asks for a DSN each time it
opens a connection (once per warm Lambda environment, again after a failure).

- ``DATABASE_IAM_AUTH=true``: ``DATABASE_URL`` names the proxy endpoint, user and database but
  no password, e.g. ``postgresql://catalog_admin@proxy.host:5432/catalog?sslmode=require``; the
  password is a token from ``rds.generate_db_auth_token`` (a local SigV4 signature, no network
  call). A token is accepted for 15 minutes at connect time only (an open connection outlives it),
  so a token older than ``TOKEN_REFRESH_SECONDS`` is replaced before the next connect.
- ``DATABASE_SECRET_ARN``: the secret holds ``host``, ``port``, ``username``, ``password`` and
  optionally ``dbname`` (the layout RDS and our stack write); it is cached by ``secrets.secret_json``.

TLS is required in both cases (IAM auth only works over TLS, and the RDS parameter group forces it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from psycopg2.extensions import make_dsn, parse_dsn

from chalicelib.adapters.aws.clients import client
from chalicelib.adapters.aws.secrets import secret_json
from chalicelib.config import Settings
from chalicelib.domain.config_error import ConfigError

TOKEN_REFRESH_SECONDS = 600.0  # tokens live 900 s; keep a wide margin for clock skew
DEFAULT_PORT = 5432
_TLS_MODES = ("require", "verify-ca", "verify-full")


class IamAuthDsn:
    """DSNs whose password is a fresh-enough RDS IAM auth token for the proxy endpoint."""

    def __init__(self, database_url: str, region: str, clock: Callable[[], float] = time.monotonic) -> None:
        try:
            params = parse_dsn(database_url)
        except Exception as exc:  # psycopg2 raises ProgrammingError for unparsable DSNs
            raise ConfigError("DATABASE_URL is not a valid PostgreSQL URL") from exc
        missing = [name for name in ("host", "user", "dbname") if not params.get(name)]
        if missing:
            raise ConfigError(f"DATABASE_URL needs {', '.join(missing)} when DATABASE_IAM_AUTH=true")
        if params.get("password"):
            raise ConfigError("DATABASE_URL must not hold a password when DATABASE_IAM_AUTH=true")
        try:
            port = int(params.get("port") or DEFAULT_PORT)
        except ValueError:
            raise ConfigError("DATABASE_URL has a port that is not a number") from None
        if params.get("sslmode") not in _TLS_MODES:
            params["sslmode"] = "require"
        params["port"] = str(port)
        self.host, self.port, self.user, self.region = params["host"], port, params["user"], region
        self._params = params
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[float, str] | None = None

    def token(self) -> str:
        now = self._clock()
        with self._lock:
            if self._token is None or now - self._token[0] >= TOKEN_REFRESH_SECONDS:
                token = client("rds", self.region).generate_db_auth_token(
                    DBHostname=self.host, Port=self.port, DBUsername=self.user, Region=self.region
                )
                self._token = (now, token)
            return self._token[1]

    def __call__(self) -> str:
        return make_dsn(**self._params, password=self.token())


class SecretDsn:
    """DSNs built from a Secrets Manager secret (cached, so rotation is seen after the cache expires)."""

    def __init__(self, secret_arn: str, region: str | None) -> None:
        self._secret_arn = secret_arn
        self._region = region

    def __call__(self) -> str:
        secret = secret_json(self._secret_arn, self._region)
        missing = [name for name in ("host", "username", "password") if not secret.get(name)]
        if missing:
            raise ConfigError(f"the secret in DATABASE_SECRET_ARN lacks {', '.join(missing)}")
        return make_dsn(
            host=secret["host"],
            port=str(secret.get("port") or DEFAULT_PORT),
            dbname=secret.get("dbname") or "postgres",
            user=secret["username"],
            password=secret["password"],
            sslmode="require",
        )


def aws_dsn(cfg: Settings) -> Callable[[], str]:
    """The DSN source for the AWS settings; IAM auth wins when both are configured."""
    if cfg.database_iam_auth:
        if not cfg.database_url:
            raise ConfigError("DATABASE_IAM_AUTH=true needs DATABASE_URL naming the proxy endpoint, user and database")
        if not cfg.aws_region:
            raise ConfigError("DATABASE_IAM_AUTH=true needs AWS_REGION")
        return IamAuthDsn(cfg.database_url, cfg.aws_region)
    if cfg.database_secret_arn:
        return SecretDsn(cfg.database_secret_arn, cfg.aws_region)
    raise ConfigError("aws_dsn needs DATABASE_IAM_AUTH=true or DATABASE_SECRET_ARN")
