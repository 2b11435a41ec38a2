"""Database secrets come from Secrets Manager once per warm process, not once per connection."""

from __future__ import annotations

import json

import boto3
import pytest
from psycopg2.extensions import parse_dsn

from chalicelib.adapters.aws.database import SecretDsn, aws_dsn
from chalicelib.adapters.aws.secrets import SecretCache, SecretError
from chalicelib.config import ConfigError, load_settings
from tests.aws.conftest import REGION

SECRET = {"host": "db.internal", "port": 5432, "username": "catalog_admin", "password": "s3cr3t!", "dbname": "catalog"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _create(name: str, value: str) -> str:
    return boto3.client("secretsmanager", region_name=REGION).create_secret(Name=name, SecretString=value)["ARN"]


def _rotate(arn: str, value: dict) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(SecretId=arn, SecretString=json.dumps(value))


def test_secret_is_read_once_then_served_from_cache_until_the_ttl_expires(aws):
    arn = _create("catalog/db", json.dumps(SECRET))
    clock = FakeClock()
    cache = SecretCache(REGION, ttl_seconds=900, clock=clock)

    assert cache.json(arn) == SECRET
    _rotate(arn, {**SECRET, "password": "rotated"})
    clock.now += 899
    assert cache.json(arn)["password"] == "s3cr3t!"  # cached: Secrets Manager was not asked again
    clock.now += 1
    assert cache.json(arn)["password"] == "rotated"  # expired: the rotated value is picked up


def test_a_secret_that_is_not_a_json_object_is_refused_without_echoing_it(aws):
    arn = _create("catalog/broken", "hunter2-not-json")
    with pytest.raises(SecretError) as raised:
        SecretCache(REGION).json(arn)
    assert "hunter2" not in str(raised.value)
    assert arn in str(raised.value)


def test_secret_dsn_carries_every_connection_field_and_requires_tls(aws):
    arn = _create("catalog/db", json.dumps(SECRET))
    dsn = parse_dsn(SecretDsn(arn, SecretCache(REGION))())
    assert dsn == {"host": "db.internal", "port": "5432", "dbname": "catalog", "user": "catalog_admin",
                   "password": "s3cr3t!", "sslmode": "require"}


def test_secret_without_a_password_is_a_configuration_error(aws):
    arn = _create("catalog/db", json.dumps({"host": "db.internal", "username": "u"}))
    with pytest.raises(ConfigError, match="password"):
        SecretDsn(arn, SecretCache(REGION))()


def test_settings_with_a_secret_arn_select_the_secret_source(aws):
    arn = _create("catalog/db", json.dumps(SECRET))
    source = aws_dsn(load_settings({"DATABASE_SECRET_ARN": arn, "AWS_REGION": REGION}))
    assert parse_dsn(source())["host"] == "db.internal"
