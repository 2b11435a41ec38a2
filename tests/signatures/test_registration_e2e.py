"""End to end: POST /api/v1/registrations -> job -> loopback registry signature check -> GET registration/version."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

import pytest

from chalicelib.config import load_settings
from chalicelib.container import Services, reset_services, services
from tests.support import oci
from tests.support.cosign import Key, push_signatures, signed
from tests.support.registrations import wait_for_jobs
from tests.support.registry import LocalRegistry
from tests.support.resources import event, rw

REGISTRATIONS = "/api/v1/registrations"
VERSION = "/api/v1/playbooks/oomkill-increase-memory/versions/1.0.0"
WRITE = ("registrations:write",)
READ = ("catalog:read",)


@pytest.fixture
def with_policy(db, tmp_path, oci_registry: LocalRegistry, trusted: Key) -> Iterator[Callable[[str], None]]:
    """with_policy(mode): services whose SIGNATURE_POLICY_FILE applies ``mode`` to the test registry's acme/*."""
    previous = services()

    def apply(mode: str) -> None:
        rule = {"match": f"{oci_registry.host}/acme/*", "mode": mode,
                "keys": [{"id": "release", "public_key": trusted.public_pem}]}  # fmt: skip
        path = tmp_path / "signature-policy.json"
        path.write_text(json.dumps({"default": "off", "rules": [rule]}))
        env = {"DATABASE_URL": os.environ["DATABASE_URL"], "SIGNATURE_POLICY_FILE": str(path),
               "INSECURE_REGISTRIES": oci_registry.host}  # fmt: skip
        reset_services(Services(load_settings(env)))

    try:
        yield apply
    finally:
        reset_services(previous)


def register(client, reference: str) -> dict:
    accepted = client.post(REGISTRATIONS, event("ADDED", rw(reference)), scopes=WRITE)
    assert accepted.status == 202, accepted
    wait_for_jobs()
    done = client.get(f"{REGISTRATIONS}/{accepted.json['registration_id']}", scopes=READ)
    assert done.status == 200
    return done.json


def test_enforce_registers_a_signed_image_and_shows_who_signed_it(
    client, push_image, oci_registry, trusted, with_policy
):
    with_policy("enforce")
    repository, digest = push_image(oci.playbook_schema())
    push_signatures(
        oci_registry.pusher, repository, digest, signed(trusted, f"{oci_registry.host}/{repository}", digest)
    )
    done = register(client, oci_registry.reference(repository, "1.0.0"))
    assert done["status"] == "succeeded", done
    assert done["signature"]["verified"] is True and done["signature"]["key_id"] == "release"
    version = client.get(VERSION, scopes=READ).json
    assert version["signature"] == {"verified": True, "key_id": "release"}
    (hit,) = client.get("/api/v1/playbooks/search?query=memory", scopes=READ).json["results"]
    assert hit["signature"] == {"verified": True, "key_id": "release"}


def test_enforce_fails_an_unsigned_image_and_stores_nothing(client, push_image, oci_registry, with_policy):
    with_policy("enforce")
    repository, digest = push_image(oci.playbook_schema())
    done = register(client, oci_registry.reference(repository, "1.0.0"))
    assert done["status"] == "failed"
    assert done["error"]["type"] == "SignatureMissing"
    assert f"sha256-{digest.split(':')[1]}.sig" in done["error"]["detail"]
    assert done["image_digest"] == digest
    assert done["signature"]["verified"] is False and done["signature"]["reason"] == "SignatureMissing"
    assert client.get(VERSION, scopes=READ).status == 404


def test_enforce_fails_a_signature_by_an_untrusted_key(client, push_image, oci_registry, other_key, with_policy):
    with_policy("enforce")
    repository, digest = push_image(oci.playbook_schema())
    push_signatures(
        oci_registry.pusher, repository, digest, signed(other_key, f"{oci_registry.host}/{repository}", digest)
    )
    done = register(client, oci_registry.reference(repository, "1.0.0"))
    assert (done["status"], done["error"]["type"]) == ("failed", "SignatureInvalid")
    assert "'release'" in done["error"]["detail"]
    assert client.get(VERSION, scopes=READ).status == 404


def test_warn_registers_an_unsigned_image_and_records_the_warning(client, push_image, oci_registry, with_policy):
    with_policy("warn")
    repository, _ = push_image(oci.playbook_schema())
    done = register(client, oci_registry.reference(repository, "1.0.0"))
    assert done["status"] == "succeeded", done
    assert "error" not in done
    assert done["signature"]["verified"] is False and done["signature"]["reason"] == "SignatureMissing"
    assert done["signature"]["mode"] == "warn"
    assert client.get(VERSION, scopes=READ).json["signature"] == {"verified": False, "key_id": None}


def test_off_checks_nothing(client, push_image, oci_registry, with_policy):
    with_policy("off")
    repository, _ = push_image(oci.playbook_schema())
    done = register(client, oci_registry.reference(repository, "1.0.0"))
    assert done["status"] == "succeeded" and done["signature"] is None
    assert client.get(VERSION, scopes=READ).json["signature"] is None
