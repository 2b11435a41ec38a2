"""End to end: registrations that point the catalog at refused destinations fail with RegistryNotAllowed.

POST /api/v1/registrations -> the real job (in-process dispatcher) -> the real registry client, with
the services built from the settings an operator would set. 127.0.0.2 plays a registry
(``ScriptedRegistry``), 127.0.0.3 an internal service that records every connection it accepts and
must never see one. A control case shows the scripted registry registers fine when listed, so each
refusal is the egress rule's doing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

import pytest

from chalicelib.adapters.signatures import signature_tag
from chalicelib.config import load_settings
from chalicelib.container import Services, reset_services, services
from tests.support import oci
from tests.support.cosign import Key
from tests.support.listeners import Listener, ScriptedRegistry, listening
from tests.support.registrations import catalog_dump, wait_for_jobs
from tests.support.resources import event, rw

REGISTRATIONS = "/api/v1/registrations"
WRITE = ("registrations:write",)
READ = ("catalog:read",)


@pytest.fixture
def image() -> oci.Image:
    return oci.image(oci.layer({"bin/remediate.sh": b"#!/bin/sh\n"}), oci.schema_layer(oci.playbook_schema()))


@pytest.fixture
def registry(image: oci.Image) -> Iterator[tuple[Listener, ScriptedRegistry]]:
    script = ScriptedRegistry({"acme/fix": image})
    with listening("127.0.0.2", script) as listener:
        yield listener, script


@pytest.fixture
def internal() -> Iterator[Listener]:
    with listening("127.0.0.3") as listener:
        yield listener


@pytest.fixture
def configure(db) -> Iterator[Callable[..., None]]:
    """configure(NAME=value, ...): the process-wide services built from these settings for the test."""
    previous = services()

    def apply(**env: str) -> None:
        reset_services(Services(load_settings({"DATABASE_URL": os.environ["DATABASE_URL"], **env})))

    try:
        yield apply
    finally:
        reset_services(previous)


def register(client, db, reference: str) -> dict:
    before = catalog_dump(db)
    accepted = client.post(REGISTRATIONS, event("ADDED", rw(reference)), scopes=WRITE)
    assert accepted.status == 202, accepted
    wait_for_jobs()
    done = client.get(f"{REGISTRATIONS}/{accepted.json['registration_id']}", scopes=READ).json
    if done["status"] == "failed":
        assert catalog_dump(db) == before
    return done


def assert_not_allowed(done: dict) -> str:
    assert done["status"] == "failed", done
    assert done["attempts"] == 1  # final at once, not retried
    assert done["error"]["type"] == "RegistryNotAllowed", done
    assert done["error"]["title"] == "The registry or a destination it points to is not allowed"
    return done["error"]["detail"]


def test_control_a_listed_registry_registers(client, db, configure, registry):
    listener, _ = registry
    configure(INSECURE_REGISTRIES=listener.host)
    done = register(client, db, f"{listener.host}/acme/fix:1.0.0")
    assert done["status"] == "succeeded", done


def test_a_refused_destination(client, db, configure, registry):
    listener, _ = registry
    configure()
    detail = assert_not_allowed(register(client, db, f"{listener.host}/acme/fix:1.0.0"))
    assert listener.accepted == []
    assert "PRIVATE_REGISTRIES (HTTPS) or INSECURE_REGISTRIES (plain HTTP)" in detail


def test_a_redirect_to_a_refused_host(client, db, configure, registry, internal):
    listener, script = registry
    script.blob_redirect = f"https://{internal.host}/latest/meta-data/iam/security-credentials"
    configure(INSECURE_REGISTRIES=listener.host)
    detail = assert_not_allowed(register(client, db, f"{listener.host}/acme/fix:1.0.0"))
    assert internal.accepted == []
    assert f"redirected the catalog to {internal.host}, which is not allowed" in detail


def test_a_token_realm_on_a_refused_host(client, db, configure, registry, internal):
    listener, script = registry
    script.token_realm = f"http://{internal.host}/token"
    configure(INSECURE_REGISTRIES=listener.host)
    detail = assert_not_allowed(register(client, db, f"{listener.host}/acme/fix:1.0.0"))
    assert internal.accepted == []
    assert f"The token service of registry {listener.host} is at {internal.host}" in detail


def test_a_registry_outside_the_allowlist(client, db, configure, registry):
    listener, _ = registry
    configure(INSECURE_REGISTRIES=listener.host, REGISTRY_ALLOWLIST="ghcr.io,*.dkr.ecr.*.amazonaws.com")
    detail = assert_not_allowed(register(client, db, f"{listener.host}/acme/fix:1.0.0"))
    assert listener.accepted == []  # listed as insecure, yet never contacted
    assert "REGISTRY_ALLOWLIST" in detail


def test_a_signature_lookup_redirected_to_a_refused_host(client, db, configure, registry, internal, image, tmp_path):
    """The signature check goes through the same client: a refusal there is not a signature verdict."""
    listener, script = registry
    script.manifest_redirects[signature_tag(image.digest)] = f"https://{internal.host}/sig"
    policy = tmp_path / "signature-policy.json"
    rule = {"match": f"{listener.host}/acme/*", "mode": "warn",
            "keys": [{"id": "release", "public_key": Key.generate().public_pem}]}  # fmt: skip
    policy.write_text(json.dumps({"default": "off", "rules": [rule]}))
    configure(INSECURE_REGISTRIES=listener.host, SIGNATURE_POLICY_FILE=str(policy))
    assert_not_allowed(register(client, db, f"{listener.host}/acme/fix:1.0.0"))
    assert internal.accepted == []
