"""Cosign-compatible verification against the real loopback registry, with images and signatures made here."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.registry import ConfiguredCredentials, RegistryClient, RegistryError, RegistryLimits
from chalicelib.adapters.signatures import CosignVerifier, signature_tag
from chalicelib.domain.images import ImageReference
from chalicelib.domain.signature_policy import ENFORCE, SIGNATURE_INVALID, SIGNATURE_MISSING, WARN, parse_policy
from tests.support import oci
from tests.support.cosign import Key, Signature, payload, push_signatures, signed
from tests.support.registry import down_host, insecure


def policy(host: str, mode: str, *keys: tuple[str, Key], default: str = "off"):
    rule = {"match": f"{host}/acme/*", "mode": mode,
            "keys": [{"id": key_id, "public_key": key.public_pem} for key_id, key in keys]}  # fmt: skip
    return parse_policy(json.dumps({"default": default, "rules": [rule]}))


@pytest.fixture
def check(registry_client, oci_registry, trusted):
    """check(repository, digest, mode=enforce, keys=[("release", trusted)]) -> SignatureResult | None."""

    def run(repository, digest, mode=ENFORCE, keys=None, default="off"):
        chosen = [("release", trusted)] if keys is None else keys
        verifier = CosignVerifier(registry_client, policy(oci_registry.host, mode, *chosen, default=default))
        return verifier.check(ImageReference(oci_registry.host, repository, tag="1.0.0"), digest)

    return run


def name(oci_registry, repository):
    return f"{oci_registry.host}/{repository}"


def test_a_signature_by_a_trusted_key_verifies(check, push_image, oci_registry, trusted):
    repository, digest = push_image()
    push_signatures(oci_registry.pusher, repository, digest, signed(trusted, name(oci_registry, repository), digest))
    result = check(repository, digest)
    assert (result.verified, result.key_id, result.reason, result.rejects) == (True, "release", None, False)
    assert result.summary() == {"verified": True, "key_id": "release"}
    assert "trusted key 'release'" in result.detail


def test_a_signature_by_another_key_is_invalid(check, push_image, oci_registry, other_key):
    repository, digest = push_image()
    push_signatures(oci_registry.pusher, repository, digest, signed(other_key, name(oci_registry, repository), digest))
    result = check(repository, digest)
    assert (result.verified, result.key_id, result.reason, result.rejects) == (False, None, SIGNATURE_INVALID, True)
    assert "does not verify with the trusted key(s) 'release'" in result.detail
    assert signature_tag(digest) in result.detail


def test_a_tampered_payload_is_invalid(check, push_image, oci_registry, trusted):
    repository, digest = push_image()
    genuine = signed(trusted, name(oci_registry, repository), digest)
    altered = genuine.payload.replace(b'"optional":null', b'"optional":{"approved":"yes"}')
    assert altered != genuine.payload
    push_signatures(oci_registry.pusher, repository, digest, Signature(altered, genuine.signature))
    result = check(repository, digest)
    assert (result.verified, result.reason) == (False, SIGNATURE_INVALID)
    assert "payload was altered" in result.detail


def test_a_signature_copied_from_another_image_is_invalid(check, push_image, oci_registry, trusted):
    signed_repo, signed_digest = push_image()
    genuine = signed(trusted, name(oci_registry, signed_repo), signed_digest)
    repository, digest = push_image()
    assert digest != signed_digest
    push_signatures(oci_registry.pusher, repository, digest, genuine)  # valid signature, wrong image
    result = check(repository, digest)
    assert (result.verified, result.reason) == (False, SIGNATURE_INVALID)
    assert f"for another image ({signed_digest})" in result.detail


def test_a_payload_of_another_type_is_invalid(check, push_image, oci_registry, trusted):
    repository, digest = push_image()
    document = payload(name(oci_registry, repository), digest, kind="atomic container signature")
    push_signatures(oci_registry.pusher, repository, digest, Signature(document, trusted.sign(document)))
    result = check(repository, digest)
    assert (result.verified, result.reason) == (False, SIGNATURE_INVALID)
    assert "its payload type is 'atomic container signature'" in result.detail


def test_an_unsigned_image_is_missing_and_enforce_rejects_it(check, push_image):
    repository, digest = push_image()
    result = check(repository, digest, mode=ENFORCE)
    assert (result.verified, result.reason, result.mode, result.rejects) == (False, SIGNATURE_MISSING, ENFORCE, True)
    assert f"no signature manifest at tag {signature_tag(digest)}" in result.detail


def test_an_unsigned_image_under_warn_is_recorded_not_rejected(check, push_image):
    repository, digest = push_image()
    result = check(repository, digest, mode=WARN)
    assert (result.verified, result.reason, result.mode, result.rejects) == (False, SIGNATURE_MISSING, WARN, False)
    assert result.to_dict()["reason"] == SIGNATURE_MISSING


def test_one_trusted_signature_among_two_is_enough(check, push_image, oci_registry, trusted, other_key):
    repository, digest = push_image()
    image = name(oci_registry, repository)
    push_signatures(
        oci_registry.pusher, repository, digest, signed(other_key, image, digest), signed(trusted, image, digest)
    )
    result = check(repository, digest)
    assert (result.verified, result.key_id) == (True, "release")
    assert "signature 2 of 2" in result.detail


def test_the_key_that_verifies_is_the_one_reported(check, push_image, oci_registry, other_key):
    repository, digest = push_image()
    push_signatures(oci_registry.pusher, repository, digest, signed(other_key, name(oci_registry, repository), digest))
    result = check(repository, digest, keys=[("release", Key.generate()), ("partner", other_key)])
    assert (result.verified, result.key_id) == (True, "partner")


def test_an_index_is_verified_by_its_own_digest(check, oci_registry, trusted):
    repository = "acme/multi-arch"
    index = oci.Index(
        (oci.image(oci.layer({"a": b"amd64"})), oci.image(oci.layer({"a": b"arm64"}), architecture="arm64"))
    )
    index_digest = oci_registry.pusher.push_index(repository, "1.0.0", index)
    platform_digest = index.images[0].digest
    image = name(oci_registry, repository)
    # Signing only the platform manifest does not sign what the tag resolves to (the index) ...
    push_signatures(oci_registry.pusher, repository, platform_digest, signed(trusted, image, platform_digest))
    assert check(repository, index_digest).reason == SIGNATURE_MISSING
    # ... `cosign sign <tag>` signs the index digest, and that verifies.
    push_signatures(oci_registry.pusher, repository, index_digest, signed(trusted, image, index_digest))
    result = check(repository, index_digest)
    assert (result.verified, result.key_id) == (True, "release")


def test_a_signature_manifest_without_signature_layers_is_missing(check, push_image, oci_registry):
    repository, digest = push_image()
    oci_registry.pusher.push_image(repository, signature_tag(digest), oci.image(oci.layer({"x": b"not a signature"})))
    result = check(repository, digest)
    assert (result.verified, result.reason) == (False, SIGNATURE_MISSING)


def test_an_enforcing_default_trusts_no_key_for_images_no_rule_matches(check, oci_registry, trusted):
    repository = "beta/unlisted"  # the rule covers acme/* only
    digest = oci_registry.pusher.push_image(repository, "1.0.0", oci.image(oci.layer({"x": b"beta"})))
    push_signatures(oci_registry.pusher, repository, digest, signed(trusted, name(oci_registry, repository), digest))
    result = check(repository, digest, default=ENFORCE)
    assert (result.verified, result.reason, result.mode, result.rejects) == (False, SIGNATURE_INVALID, ENFORCE, True)
    assert f"trusts no key for {name(oci_registry, repository)}" in result.detail


def test_off_means_no_check(check, push_image):
    repository, digest = push_image()
    assert check(repository, digest, mode="off", keys=[]) is None


def test_an_unreachable_registry_is_a_transient_error_not_a_verdict(trusted):
    host = down_host()
    rule = policy(host, ENFORCE, ("release", trusted))
    reader = RegistryClient(ConfiguredCredentials({}), insecure(host), limits=RegistryLimits(attempts=1))
    with pytest.raises(RegistryError) as raised:
        CosignVerifier(reader, rule).check(ImageReference(host, "acme/x", tag="1"), "sha256:" + "a" * 64)
    assert raised.value.transient


def test_malformed_signatures_are_reported_one_by_one(check, push_image, oci_registry):
    repository, digest = push_image()
    document = payload(name(oci_registry, repository), digest)
    push_signatures(
        oci_registry.pusher, repository, digest, Signature(document, "not base64!"), Signature(document, "bm90IERFUg==")
    )
    result = check(repository, digest)
    assert (result.verified, result.reason) == (False, SIGNATURE_INVALID)
    assert "signature 1: the dev.cosignproject.cosign/signature annotation is not base64" in result.detail
    assert "signature 2: does not verify with the trusted key(s) 'release'" in result.detail
