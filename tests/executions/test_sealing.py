"""The sealers behind held writeOnly values: a local key file for `make run`, KMS or a Secrets Manager data key
in AWS (moto plays KMS and Secrets Manager: no AWS account is reachable from tests)."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.adapters.sealing import DataKeySealer, KmsSealer, LocalKeySealer, SealError
from chalicelib.config import load_settings
from chalicelib.container import Services
from chalicelib.domain.config_error import ConfigError
from tests.support.aws import REGION
from tests.support.executions import SECRET

VALUES = json.dumps({"NOTIFY_WEBHOOK_TOKEN": SECRET}).encode()
EXECUTION = "6d0c1c1e-3f7a-4c53-9d5e-2b1f0f3a9c11"
OTHER = "0b7f3e52-9a61-4d1e-8f0c-5e2a4b6c7d8e"


def assert_seals(sealer: Any) -> None:
    """Round trip, never in clear, fresh every time, bound to its execution, tamper-evident."""
    sealed = sealer.seal(VALUES, EXECUTION)
    assert SECRET.encode() not in sealed
    assert sealer.unseal(sealed, EXECUTION) == VALUES
    assert sealer.seal(VALUES, EXECUTION) != sealed  # a fresh nonce (and data key) per seal
    with pytest.raises(SealError):
        sealer.unseal(sealed, OTHER)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        sealer.unseal(tampered, EXECUTION)


def test_local_key_file_is_created_on_first_use_with_mode_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "approval-secrets.key"
    sealer = LocalKeySealer(key_file)
    assert not key_file.exists()  # nothing happens before the first seal
    assert_seals(sealer)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == 32
    # Another process (a restart) opens what this one sealed, with the same file.
    assert LocalKeySealer(key_file).unseal(sealer.seal(VALUES, EXECUTION), EXECUTION) == VALUES


def test_concurrent_first_uses_agree_on_one_key(tmp_path: Path) -> None:
    key_file = tmp_path / "approval-secrets.key"
    sealers = [LocalKeySealer(key_file) for _ in range(8)]
    sealed: list[bytes] = []
    ready = threading.Barrier(len(sealers))

    def first_use(sealer: LocalKeySealer) -> None:
        ready.wait(timeout=10)
        sealed.append(sealer.seal(VALUES, EXECUTION))

    threads = [threading.Thread(target=first_use, args=(sealer,)) for sealer in sealers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(sealed) == 8
    assert all(LocalKeySealer(key_file).unseal(one, EXECUTION) == VALUES for one in sealed)
    assert [p.name for p in tmp_path.iterdir()] == ["approval-secrets.key"]  # no temporary file left


@pytest.mark.parametrize(("mode", "content", "complaint"), [
    (0o644, os.urandom(32), "read by others"),
    (0o600, b"short", "32 bytes"),
])
def test_a_key_file_that_others_may_read_or_that_is_not_a_key_is_refused(tmp_path: Path, mode: int, content: bytes,
                                                                         complaint: str) -> None:
    key_file = tmp_path / "approval-secrets.key"
    key_file.write_bytes(content)
    key_file.chmod(mode)
    with pytest.raises(SealError, match=complaint):
        LocalKeySealer(key_file).seal(VALUES, EXECUTION)


def test_kms_envelope_with_the_execution_as_encryption_context(aws: None) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Description="approval secrets")["KeyMetadata"]["Arn"]
    sealer = KmsSealer(key, REGION)
    assert_seals(sealer)
    other_key = kms.create_key(Description="another")["KeyMetadata"]["Arn"]
    with pytest.raises(SealError, match="KMS decrypt failed"):  # KeyId pins the key that must have wrapped it
        KmsSealer(other_key, REGION).unseal(sealer.seal(VALUES, EXECUTION), EXECUTION)
    with pytest.raises(SealError, match="KMS encrypt failed"):
        KmsSealer("alias/missing", REGION).seal(VALUES, EXECUTION)


def test_a_secrets_manager_data_key(aws: None) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="catalog/approval-key", SecretString=json.dumps(
        {"data_key": base64.b64encode(os.urandom(32)).decode()}))["ARN"]
    assert_seals(DataKeySealer(arn, REGION))
    short = secrets.create_secret(Name="catalog/short", SecretString=json.dumps({"data_key": "c2hvcnQ="}))["ARN"]
    with pytest.raises(SealError, match="32 bytes"):
        DataKeySealer(short, REGION).seal(VALUES, EXECUTION)
    with pytest.raises(SealError, match="cannot be read"):
        DataKeySealer(arn + "-missing", REGION).seal(VALUES, EXECUTION)


def test_configuration_chooses_the_sealer_and_lambda_needs_an_aws_key(tmp_path: Path) -> None:
    base = {"DATABASE_URL": "postgresql://u@localhost/db", "CATALOG_DATA_DIR": str(tmp_path)}
    assert isinstance(Services(load_settings(base)).sealer, LocalKeySealer)
    kms = load_settings({**base, "APPROVAL_KMS_KEY_ID": "alias/catalog-approvals", "AWS_LAMBDA_FUNCTION_NAME": "f"})
    assert isinstance(Services(kms).sealer, KmsSealer)
    secret = load_settings({**base, "APPROVAL_KEY_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:k"})
    assert isinstance(Services(secret).sealer, DataKeySealer)
    with pytest.raises(ConfigError, match="APPROVAL_KMS_KEY_ID"):  # a key file would die with the environment
        load_settings({**base, "AWS_LAMBDA_FUNCTION_NAME": "workflow-catalog-prod"})
    with pytest.raises(ConfigError, match="not both"):
        load_settings({**base, "APPROVAL_KMS_KEY_ID": "k", "APPROVAL_KEY_SECRET_ARN": "s"})
