"""RDS IAM auth: tokens are signed for the proxy endpoint, user and region, and renewed before expiry.

generate_db_auth_token is a local SigV4 pre-signature (no network call), so the token text itself
shows what was requested: ``host:port/?Action=connect&DBUser=user&X-Amz-Credential=.../region/rds-db/...``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from psycopg2.extensions import parse_dsn

from chalicelib.adapters.aws.clients import client
from chalicelib.adapters.aws.database import TOKEN_REFRESH_SECONDS, IamAuthDsn, aws_dsn
from chalicelib.config import load_settings
from chalicelib.domain.config_error import ConfigError
from tests.support.aws import REGION

PROXY = "catalog-proxy.proxy-abc123.eu-west-1.rds.amazonaws.com"
URL = f"postgresql://catalog_app@{PROXY}:5432/catalog?sslmode=require"


def _token_fields(token: str) -> tuple[str, int, str, str, str]:
    parts = urlsplit("https://" + token)
    query = parse_qs(parts.query)
    credential_scope = query["X-Amz-Credential"][0].split("/")  # key/date/region/service/aws4_request
    return parts.hostname, parts.port, query["DBUser"][0], credential_scope[2], credential_scope[3]


def test_token_is_requested_for_the_proxy_endpoint_user_and_region(aws):
    dsn = parse_dsn(aws_dsn(load_settings({"DATABASE_IAM_AUTH": "true", "DATABASE_URL": URL, "AWS_REGION": REGION}))())

    assert (dsn["host"], dsn["port"], dsn["user"], dsn["dbname"], dsn["sslmode"]) == (
        PROXY, "5432", "catalog_app", "catalog", "require")
    assert _token_fields(dsn["password"]) == (PROXY, 5432, "catalog_app", REGION, "rds-db")
    assert "Action=connect" in dsn["password"]


def test_tls_is_forced_even_when_the_url_does_not_ask_for_it(aws):
    source = IamAuthDsn(f"postgresql://catalog_app@{PROXY}/catalog", REGION)
    dsn = parse_dsn(source())
    assert dsn["sslmode"] == "require"
    assert dsn["port"] == "5432"


def test_token_is_reused_within_its_refresh_window_and_renewed_after(aws, monkeypatch):
    now = [0.0]
    source = IamAuthDsn(URL, REGION, clock=lambda: now[0])
    rds = client("rds", REGION)
    calls: list[dict] = []
    real = rds.generate_db_auth_token

    def spy(**kwargs):  # a spy around the real signer: counts requests, the token is still real
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(rds, "generate_db_auth_token", spy)

    source()
    now[0] = TOKEN_REFRESH_SECONDS - 1
    source()
    assert len(calls) == 1
    now[0] = TOKEN_REFRESH_SECONDS
    source()
    assert len(calls) == 2
    assert calls[1] == {"DBHostname": PROXY, "Port": 5432, "DBUsername": "catalog_app", "Region": REGION}
    assert TOKEN_REFRESH_SECONDS < 900  # renewed before RDS stops accepting it (15 minutes)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_IAM_AUTH": "true", "AWS_REGION": REGION}, "needs DATABASE_URL"),
        ({"DATABASE_IAM_AUTH": "true", "DATABASE_URL": URL}, "needs AWS_REGION"),
        ({"DATABASE_IAM_AUTH": "true", "AWS_REGION": REGION,
          "DATABASE_URL": f"postgresql://catalog_app:pw@{PROXY}/catalog"}, "must not hold a password"),
        ({"DATABASE_IAM_AUTH": "true", "AWS_REGION": REGION, "DATABASE_URL": f"postgresql://{PROXY}/catalog"},
         "needs user"),
        ({}, "needs DATABASE_IAM_AUTH=true or DATABASE_SECRET_ARN"),
    ],
)
def test_incomplete_settings_stop_start_up_with_the_variable_named(env, message):
    with pytest.raises(ConfigError, match=message):
        aws_dsn(load_settings(env))


def test_the_composition_root_uses_iam_auth_even_though_database_url_is_set():
    from chalicelib.container import _database_dsn

    source = _database_dsn(load_settings({"DATABASE_IAM_AUTH": "true", "DATABASE_URL": URL, "AWS_REGION": REGION}))
    assert isinstance(source, IamAuthDsn) and source.host == PROXY
