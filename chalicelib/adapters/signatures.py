"""Cosign-compatible, key-based image signature verification over the registry client.

Hand-written because nothing installable does it: there is no cosign binary here and the Python
``sigstore`` package verifies keyless blobs only. Key-based cosign signatures need only the
registry client and ``cryptography`` (see "Cosign-compatible signatures" in the engineering
notes): the signature manifest is at tag ``sha256-<hex>.sig`` in the image's repository, each
``application/vnd.dev.cosign.simplesigning.v1+json`` layer is a payload blob, and its annotation
``dev.cosignproject.cosign/signature`` is a base64 DER ECDSA-P256-SHA256 signature of the exact
payload bytes. A signature counts only if a trusted key verifies it AND its payload says it is a
cosign image signature of this very digest (a valid signature copied from another image does not).

The digest checked is the one the registration resolved from the tag and pins in the catalog: for
a multi-platform image that is the index digest, which is what ``cosign sign <tag>`` signs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.adapters.registry import Descriptor, RegistryClient, RegistryError
from chalicelib.adapters.registry.client import Manifest
from chalicelib.adapters.registry.errors import REGISTRY_NOT_ALLOWED
from chalicelib.domain.images import ImageReference
from chalicelib.domain.signature_policy import (
    OFF,
    SIGNATURE_INVALID,
    SIGNATURE_MISSING,
    SignaturePolicy,
    SignatureResult,
    TrustedKey,
)
from chalicelib.observability import logger

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"
MAX_PAYLOAD_BYTES = 64 * 1024  # cosign payloads are a few hundred bytes; optional claims stay far below
MAX_SIGNATURES = 32  # each `cosign sign` appends a layer; bound the work one registration does
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


class CosignVerifier:
    """The SignatureVerifier port: applies the policy's mode and keys to one image digest."""

    def __init__(self, registry: RegistryClient, policy: SignaturePolicy) -> None:
        self._registry = registry
        self._policy = policy

    def check(self, reference: ImageReference, digest: str) -> SignatureResult | None:
        mode, keys = self._policy.mode_for(reference.name)
        if mode == OFF:
            return None
        result = replace(verify_signature(self._registry, reference, digest, keys), mode=mode)
        ids = {"image": reference.name, "image_digest": digest, "signature_mode": mode}
        if result.verified:
            logger.info("image signature verified", extra={**ids, "key_id": result.key_id})
        else:
            problem = {"reason": result.reason, "detail": result.detail}
            logger.warning("image signature not verified", extra={**ids, **problem})
        return result


def signature_tag(digest: str) -> str:
    """Cosign's tag for the signatures of ``digest``: ``sha256-<hex>.sig``."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}-{hexdigest}.sig"


def verify_signature(
    registry: RegistryClient, reference: ImageReference, digest: str, keys: tuple[TrustedKey, ...]
) -> SignatureResult:
    """Checks the cosign signatures of ``digest``; raises only transient RegistryErrors (worth a retry)."""
    image = f"{reference.name}@{digest}"
    location = ImageReference(reference.registry, reference.repository, tag=signature_tag(digest))
    try:
        manifest = _find_manifest(registry, location)
    except RegistryError as error:
        if error.transient or error.reason == REGISTRY_NOT_ALLOWED:
            raise  # a retry may succeed; a refused destination fails the registration as such, not as a verdict
        return _invalid(f"The signatures of {image} could not be read from {location}: {error.detail}")
    if manifest is None:
        return _missing(
            f"{image} is not signed: there is no signature manifest at tag {location.tag} in {reference.name} "
            "(`cosign sign --key <key> <image>` puts it there)."
        )
    layers = [
        layer
        for layer in manifest.json().get("layers") or []
        if isinstance(layer, dict) and layer.get("mediaType") == SIMPLE_SIGNING
    ]
    if not layers:
        return _missing(f"{image} is not signed: the manifest at {location} has no {SIMPLE_SIGNING} layer.")
    if not keys:
        return _invalid(
            f"{image} has {len(layers)} signature(s) but SIGNATURE_POLICY_FILE trusts no key for "
            f"{reference.name}; add a rule matching it with the signer's public key."
        )
    problems = []
    for position, layer in enumerate(layers[:MAX_SIGNATURES], start=1):
        outcome = _check_layer(registry, location, layer, digest, keys)
        if isinstance(outcome, TrustedKey):
            return SignatureResult(
                verified=True,
                key_id=outcome.id,
                reason=None,
                detail=f"{image} is signed by trusted key '{outcome.id}' (signature {position} of {len(layers)}).",
            )
        problems.append(f"signature {position}: {outcome}")
    skipped = f" ({len(layers) - MAX_SIGNATURES} more not checked)" if len(layers) > MAX_SIGNATURES else ""
    return _invalid(f"No valid signature for {image} at {location}{skipped}: " + "; ".join(problems) + ".")


def _find_manifest(registry: RegistryClient, location: ImageReference) -> Manifest | None:
    """The signature manifest, or None when the tag does not exist (an unsigned image)."""
    try:
        return registry.get_manifest(location, location.tag or "")
    except RegistryError as error:
        if error.not_found:
            return None
        raise


def _check_layer(
    registry: RegistryClient, location: ImageReference, layer: dict[str, Any], digest: str, keys: tuple[TrustedKey, ...]
) -> TrustedKey | str:
    """The trusted key that signed this layer for ``digest``, or why it does not count."""
    encoded = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
    if not isinstance(encoded, str) or not encoded:
        return f"has no {SIGNATURE_ANNOTATION} annotation"
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return f"the {SIGNATURE_ANNOTATION} annotation is not base64"
    payload = _payload(registry, location, layer)
    if isinstance(payload, str):
        return payload
    signer = _signer(signature, payload, keys)
    if signer is None:
        listed = ", ".join(f"'{key.id}'" for key in keys)
        return f"does not verify with the trusted key(s) {listed} (another key signed it, or the payload was altered)"
    try:
        critical = json.loads(payload)["critical"]
        kind, signed = critical["type"], critical["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError):
        return f"signed by '{signer.id}' but the payload is not a cosign simple-signing document"
    if kind != PAYLOAD_TYPE:
        return f"signed by '{signer.id}' but its payload type is {kind!r}, not '{PAYLOAD_TYPE}'"
    if signed != digest:
        return (
            f"signed by '{signer.id}' for another image ({signed}); "
            "a signature copied from another image does not count"
        )
    return signer


def _payload(registry: RegistryClient, location: ImageReference, layer: dict[str, Any]) -> bytes | str:
    """The payload blob, size-capped and digest-verified, or why it could not be read."""
    blob_digest, size = layer.get("digest"), layer.get("size")
    if not isinstance(blob_digest, str) or not _DIGEST.fullmatch(blob_digest):
        return f"the layer names an invalid digest {blob_digest!r}"
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_PAYLOAD_BYTES:
        return f"the payload size {size!r} is not between 1 and {MAX_PAYLOAD_BYTES} bytes"
    chunks = []
    try:
        with registry.open_blob(location, Descriptor(SIMPLE_SIGNING, blob_digest, size)) as stream:
            while chunk := stream.read(size):  # reading to the end verifies size and digest
                chunks.append(chunk)
    except RegistryError as error:
        if error.transient or error.reason == REGISTRY_NOT_ALLOWED:
            raise
        return f"the payload could not be read ({error.detail})"
    return b"".join(chunks)


def _signer(signature: bytes, payload: bytes, keys: tuple[TrustedKey, ...]) -> TrustedKey | None:
    for key in keys:
        try:
            key.public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):  # ValueError: not DER at all
            continue
        return key
    return None


def _missing(detail: str) -> SignatureResult:
    return SignatureResult(verified=False, key_id=None, reason=SIGNATURE_MISSING, detail=detail)


def _invalid(detail: str) -> SignatureResult:
    return SignatureResult(verified=False, key_id=None, reason=SIGNATURE_INVALID, detail=detail)
