"""Signs images the way ``cosign sign --key`` does, for tests (no cosign binary is installable here).

A signature is a simple-signing JSON payload naming the image digest, signed with ECDSA P-256 /
SHA-256 (DER, base64) and pushed as a layer of the manifest at tag ``sha256-<hex>.sig`` in the
image's repository, the signature in the layer's ``dev.cosignproject.cosign/signature`` annotation.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.adapters.signatures import SIGNATURE_ANNOTATION, SIMPLE_SIGNING, signature_tag
from tests.support import oci
from tests.support.registry import RegistryPusher


@dataclass(frozen=True)
class Key:
    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> Key:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self.private.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


@dataclass(frozen=True)
class Signature:
    payload: bytes
    signature: str  # base64 DER


def payload(image_name: str, digest: str, kind: str = "cosign container image signature") -> bytes:
    """The simple-signing payload cosign writes (compact JSON, ``optional`` null)."""
    document = {
        "critical": {
            "identity": {"docker-reference": image_name},
            "image": {"docker-manifest-digest": digest},
            "type": kind,
        },
        "optional": None,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signed(key: Key, image_name: str, digest: str) -> Signature:
    document = payload(image_name, digest)
    return Signature(document, key.sign(document))


def push_signatures(pusher: RegistryPusher, repository: str, digest: str, *signatures: Signature) -> str:
    """Pushes the signature manifest of ``digest`` (one layer per signature); returns its digest."""
    layers = []
    for item in signatures:
        blob = oci.Blob(SIMPLE_SIGNING, item.payload)
        pusher.push_blob(repository, blob)
        layers.append({**blob.descriptor(), "annotations": {SIGNATURE_ANNOTATION: item.signature}})
    config = oci.Blob(oci.OCI_CONFIG, json.dumps({"architecture": "", "os": "", "config": {},
                                                   "rootfs": {"type": "layers", "diff_ids": []}}).encode())  # fmt: skip
    pusher.push_blob(repository, config)
    manifest = {"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "config": config.descriptor(), "layers": layers}
    return pusher.push_manifest(
        repository, signature_tag(digest), oci.Blob(oci.OCI_MANIFEST, json.dumps(manifest).encode())
    )
