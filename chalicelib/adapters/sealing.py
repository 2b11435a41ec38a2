"""Sealing the writeOnly values an execution holds while it waits for approval (AES-256-GCM).

Three ways to get the key, one format: ``version byte | nonce (12) | ciphertext+tag``, with the
execution id as associated data, so a sealed value copied onto another execution does not open.
- ``KmsSealer`` (AWS, ``APPROVAL_KMS_KEY_ID``): envelope encryption. Each seal draws a fresh data
  key, encrypts the values with it locally and has KMS encrypt the data key under the configured
  key with the execution id as encryption context (KMS Encrypt takes at most 4 KB, the values may
  be more); opening asks KMS to decrypt the data key. The plaintext key never leaves memory.
- ``DataKeySealer`` (AWS, ``APPROVAL_KEY_SECRET_ARN``): the data key is a Secrets Manager secret
  ``{"data_key": "<base64 of 32 bytes>"}``, read through the service's secret cache.
- ``LocalKeySealer`` (``make run``): a 32-byte key file under the data folder, created on first use
  with mode 0600; a file others may read is refused.

``cryptography`` is imported on first use: most cold starts never seal anything.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from pathlib import Path
from typing import Any

from chalicelib.adapters.aws import clients
from chalicelib.adapters.aws.secrets import SecretError, secret_json

KEY_BYTES = 32
NONCE_BYTES = 12
LOCAL, SECRET_KEY, ENVELOPE = b"\x01", b"\x02", b"\x03"
CONTEXT_KEY = "execution_id"


class SealError(RuntimeError):
    """The values cannot be sealed or opened (key unavailable, wrong key, tampered data); never quotes them."""


def _seal_with(key: bytes, plaintext: bytes, context: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def _open_with(key: bytes, sealed: bytes, context: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode())
    except InvalidTag:
        raise SealError("the sealed values do not open with this key for this execution") from None


def _body(sealed: bytes, version: bytes) -> bytes:
    if sealed[:1] != version:
        raise SealError("the sealed values were not sealed the way this service is configured to open them")
    return sealed[1:]


class LocalKeySealer:
    def __init__(self, key_file: Path) -> None:
        self._path = key_file
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def seal(self, plaintext: bytes, context: str) -> bytes:
        return LOCAL + _seal_with(self._load(), plaintext, context)

    def unseal(self, sealed: bytes, context: str) -> bytes:
        return _open_with(self._load(), _body(sealed, LOCAL), context)

    def _load(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._read_or_create()
            return self._key

    def _read_or_create(self) -> bytes:
        path = self._path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole under a temporary name, then linked: a concurrent first use (another thread or
            # process) either wins the link or reads the winner's complete file, never half a key.
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(os.urandom(KEY_BYTES))
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink(missing_ok=True)
        if path.stat().st_mode & 0o077:
            raise SealError(f"the approval key file {path} may be read by others; chmod 600 it")
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise SealError(f"the approval key file {path} must hold {KEY_BYTES} bytes")
        return key


class DataKeySealer:
    def __init__(self, secret_arn: str, region: str | None) -> None:
        self._secret_arn = secret_arn
        self._region = region

    def seal(self, plaintext: bytes, context: str) -> bytes:
        return SECRET_KEY + _seal_with(self._key(), plaintext, context)

    def unseal(self, sealed: bytes, context: str) -> bytes:
        return _open_with(self._key(), _body(sealed, SECRET_KEY), context)

    def _key(self) -> bytes:
        try:
            key = base64.b64decode(secret_json(self._secret_arn, self._region).get("data_key", ""), validate=True)
        except (SecretError, binascii.Error, TypeError) as exc:
            reason = str(exc) if isinstance(exc, SecretError) else "its data_key is not base64"
            raise SealError(f"the approval data key cannot be read: {reason}") from None
        if len(key) != KEY_BYTES:
            raise SealError(f"the approval data key in {self._secret_arn} must be {KEY_BYTES} bytes (base64)")
        return key


class KmsSealer:
    def __init__(self, key_id: str, region: str | None) -> None:
        self._key_id = key_id
        self._region = region

    def seal(self, plaintext: bytes, context: str) -> bytes:
        data_key = os.urandom(KEY_BYTES)
        wrapped = self._call("encrypt", KeyId=self._key_id, Plaintext=data_key,
                             EncryptionContext={CONTEXT_KEY: context})["CiphertextBlob"]
        return ENVELOPE + len(wrapped).to_bytes(2, "big") + wrapped + _seal_with(data_key, plaintext, context)

    def unseal(self, sealed: bytes, context: str) -> bytes:
        body = _body(sealed, ENVELOPE)
        size = int.from_bytes(body[:2], "big")
        wrapped, rest = body[2:2 + size], body[2 + size:]
        # KeyId pins the key: a ciphertext wrapped under any other key is refused by KMS.
        data_key = self._call("decrypt", KeyId=self._key_id, CiphertextBlob=wrapped,
                              EncryptionContext={CONTEXT_KEY: context})["Plaintext"]
        return _open_with(data_key, rest, context)

    def _call(self, operation: str, **arguments: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(clients.client("kms", self._region), operation)(**arguments)
        except ClientError as exc:
            raise SealError(f"KMS {operation} failed ({exc.response.get('Error', {}).get('Code', 'error')})") from None
        except BotoCoreError as exc:
            raise SealError(f"KMS {operation} failed ({type(exc).__name__})") from None
