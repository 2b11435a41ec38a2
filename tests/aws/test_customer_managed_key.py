"""With ``KmsKeyArn`` the queues and secrets are KMS-encrypted; the code reading them does not change.

SQS and Secrets Manager encrypt and decrypt on the server side, and Lambda decrypts environment
variables before the handler runs, so the runtime hands the code plaintext either way. These tests
run the real adapters against moto resources created with a customer-managed key. moto does not
enforce key policies or IAM: the permissions those need are checked on the template in tests/infra.
"""

from __future__ import annotations

import json

import boto3

from chalicelib.adapters.aws.clients import client
from chalicelib.adapters.aws.database import SecretDsn
from chalicelib.adapters.aws.secrets import SecretCache
from chalicelib.adapters.dispatch import JobMessage, SqsDispatcher
from tests.aws.conftest import REGION


def _customer_key() -> str:
    return boto3.client("kms", region_name=REGION).create_key(Description="catalog CMK")["KeyMetadata"]["Arn"]


def test_a_job_queued_on_a_kms_encrypted_queue_arrives_intact(aws):
    key = _customer_key()
    sqs = client("sqs", REGION)
    url = sqs.create_queue(QueueName="registrations", Attributes={"KmsMasterKeyId": key})["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"] == {
        "KmsMasterKeyId": key}

    SqsDispatcher(url, sqs).dispatch(JobMessage("3f1c7d0e-5a4b-4c2d-9e8f-1a2b3c4d5e6f", "corr-1"))

    [received] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert JobMessage.from_json(received["Body"]) == JobMessage("3f1c7d0e-5a4b-4c2d-9e8f-1a2b3c4d5e6f", "corr-1")


def test_a_database_secret_under_a_customer_key_gives_the_same_dsn(aws):
    key = _customer_key()
    secret = {"host": "db.internal", "port": 5432, "username": "catalog_admin", "password": "pw", "dbname": "catalog"}
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="catalog/db", SecretString=json.dumps(secret), KmsKeyId=key)["ARN"]
    described = boto3.client("secretsmanager", region_name=REGION).describe_secret(SecretId=arn)
    assert described["KmsKeyId"] == key

    assert SecretCache(REGION).json(arn) == secret
    assert "host=db.internal" in SecretDsn(arn, SecretCache(REGION))()
