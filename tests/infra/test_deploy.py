"""The boto3 deploy's packaging step against moto S3 (the change set itself needs real AWS)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra.deploy import package, parameters

TEMPLATE_PARAMETERS = {"AlarmEmail": {}, "MigrationsDigest": {}, "LogRetentionDays": {}}


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="deploys")
        yield client


def _template() -> dict:
    return {"Resources": {
        "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./deployment.zip"}},
        "Migrate": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./deployment.zip"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    }}


def test_code_is_uploaded_once_by_content_and_every_function_points_at_it(s3, tmp_path: Path):
    code = tmp_path / "deployment.zip"
    code.write_bytes(b"zip bytes")
    first = package(_template(), code, s3, "deploys", "catalog")
    uri = first["Resources"]["APIHandler"]["Properties"]["CodeUri"]
    assert uri == first["Resources"]["Migrate"]["Properties"]["CodeUri"]
    assert uri["Bucket"] == "deploys" and uri["Key"].startswith("catalog/code-")
    assert s3.get_object(Bucket="deploys", Key=uri["Key"])["Body"].read() == b"zip bytes"
    modified = s3.head_object(Bucket="deploys", Key=uri["Key"])["LastModified"]
    package(_template(), code, s3, "deploys", "catalog")
    assert s3.head_object(Bucket="deploys", Key=uri["Key"])["LastModified"] == modified
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="deploys")["Contents"]] == [uri["Key"]]


def test_updates_keep_previous_parameters_except_the_migrations_digest():
    template = {"Parameters": TEMPLATE_PARAMETERS}
    assert parameters(template, {"AlarmEmail": "oncall@example.com"}, existing=True) == [
        {"ParameterKey": "AlarmEmail", "ParameterValue": "oncall@example.com"},
        {"ParameterKey": "LogRetentionDays", "UsePreviousValue": True},
    ]
    assert parameters(template, {}, existing=False) == []
    with pytest.raises(SystemExit, match="unknown parameter"):
        parameters(template, {"AlarmMail": "x"}, existing=False)
