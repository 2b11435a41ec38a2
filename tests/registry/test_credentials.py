"""Registry credentials from Secrets Manager and Amazon ECR (moto stands in for AWS: no account here)."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.aws.clients import client as aws_client
from chalicelib.adapters.registry import ConfiguredCredentials, RegistryClient, RegistryError, RegistryLimits
from chalicelib.domain.images import parse_image_reference
from tests.support import oci
from tests.support.registry import insecure

ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def test_credentials_from_a_secrets_manager_secret_open_a_basic_auth_registry(aws, basic_auth_registry):
    user, password = basic_auth_registry.auth
    arn = aws_client("secretsmanager").create_secret(
        Name="registry", SecretString=json.dumps({"username": user, "password": password})
    )["ARN"]
    basic_auth_registry.pusher.push_image("acme/secret", "1.0.0", oci.image(oci.schema_layer(b'{"from": "secret"}')))
    reader = RegistryClient(
        ConfiguredCredentials({basic_auth_registry.host: {"secret_arn": arn}}), insecure(basic_auth_registry.host)
    )
    _, found = reader.read_file(
        parse_image_reference(basic_auth_registry.reference("acme/secret", "1.0.0")), "/playbook-schema.json"
    )
    assert found == b'{"from": "secret"}'


def test_an_unusable_secret_is_reported_without_its_content(aws, basic_auth_registry):
    arn = aws_client("secretsmanager").create_secret(Name="broken", SecretString="hunter2-not-json")["ARN"]
    reader = RegistryClient(
        ConfiguredCredentials({basic_auth_registry.host: {"secret_arn": arn}}),
        insecure(basic_auth_registry.host),
        limits=RegistryLimits(attempts=1),
    )
    with pytest.raises(RegistryError) as caught:
        reader.resolve(parse_image_reference(basic_auth_registry.reference("acme/secret")))
    assert "Secrets Manager" in caught.value.detail and "hunter2" not in caught.value.detail


def test_ecr_hosts_use_an_ecr_authorization_token_without_configuration(aws):
    credentials = ConfiguredCredentials({}).credentials_for(ECR_HOST)
    assert credentials is not None and credentials.username == "AWS" and credentials.password
    assert ConfiguredCredentials({}).credentials_for("ghcr.io") is None
