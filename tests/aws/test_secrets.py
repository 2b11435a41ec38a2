"""Database secrets come from Secrets Manager once per warm process, not once per connection."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from psycopg2.extensions import parse_dsn

from chalicelib.adapters.aws.database import SecretDsn, aws_dsn
from chalicelib.adapters.aws.secrets import SecretError, secret_json
from chalicelib.adapters.registry import BasicCredentials, ConfiguredCredentials
from chalicelib.config import load_settings
from chalicelib.domain.config_error import ConfigError
from tests.support.aws import REGION

SECRET = {"host": "db.internal", "port": 5432, "username": "catalog_admin", "password": "s3cr3t!", "dbname": "catalog"}


def _create(name: str, value: str) -> str:
    return boto3.client("secretsmanager", region_name=REGION).create_secret(Name=name, SecretString=value)["ARN"]


def _rotate(arn: str, value: dict) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(SecretId=arn, SecretString=json.dumps(value))


def test_secret_is_read_once_then_served_from_cache_until_it_expires(aws):
    arn = _create("catalog/db", json.dumps(SECRET))
    assert secret_json(arn, REGION, max_age=1) == SECRET
    _rotate(arn, {**SECRET, "password": "rotated"})
    assert secret_json(arn, REGION, max_age=1)["password"] == "s3cr3t!"  # cached: Secrets Manager not asked
    time.sleep(1.1)
    assert secret_json(arn, REGION, max_age=1)["password"] == "rotated"  # expired: the rotated value is read


def test_the_database_and_the_registries_share_one_cache(aws):
    arn = _create("catalog/shared", json.dumps({**SECRET, "username": "robot"}))
    assert parse_dsn(SecretDsn(arn, REGION)())["password"] == "s3cr3t!"
    _rotate(arn, {**SECRET, "username": "robot", "password": "rotated"})
    credentials = ConfiguredCredentials({"registry.example": {"secret_arn": arn}}).credentials_for("registry.example")
    assert credentials == BasicCredentials("robot", "s3cr3t!")  # served from the cache the DSN filled


def test_a_secret_that_is_not_a_json_object_is_refused_without_echoing_it(aws):
    arn = _create("catalog/broken", "hunter2-not-json")
    with pytest.raises(SecretError) as raised:
        secret_json(arn, REGION)
    assert "hunter2" not in str(raised.value)
    assert arn in str(raised.value)


def test_a_missing_secret_names_the_error_not_a_value(aws):
    with pytest.raises(SecretError, match="ResourceNotFoundException"):
        secret_json(f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nope-AbCdEf", REGION)


def test_secret_dsn_carries_every_connection_field_and_requires_tls(aws):
    arn = _create("catalog/db", json.dumps(SECRET))
    dsn = parse_dsn(SecretDsn(arn, REGION)())
    assert dsn == {"host": "db.internal", "port": "5432", "dbname": "catalog", "user": "catalog_admin",
                   "password": "s3cr3t!", "sslmode": "require"}


def test_secret_without_a_password_is_a_configuration_error(aws):
    arn = _create("catalog/db", json.dumps({"host": "db.internal", "username": "u"}))
    with pytest.raises(ConfigError, match="password"):
        SecretDsn(arn, REGION)()


def test_settings_with_a_secret_arn_select_the_secret_source(aws):
    arn = _create("catalog/db", json.dumps(SECRET))
    source = aws_dsn(load_settings({"DATABASE_SECRET_ARN": arn, "AWS_REGION": REGION}))
    assert parse_dsn(source())["host"] == "db.internal"
