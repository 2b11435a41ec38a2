"""Fixtures for signature tests: the loopback registry, a registry client, signing keys, images."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from chalicelib.adapters.registry import ConfiguredCredentials, RegistryClient, RegistryLimits
from tests.support import oci
from tests.support.cosign import Key
from tests.support.registry import LocalRegistry, insecure, oci_registry

__all__ = ["oci_registry"]

_repos = itertools.count()


@pytest.fixture
def registry_client(oci_registry: LocalRegistry) -> RegistryClient:
    return RegistryClient(ConfiguredCredentials({}), insecure(oci_registry.host), limits=RegistryLimits(attempts=1))


@pytest.fixture(scope="session")
def trusted() -> Key:
    return Key.generate()


@pytest.fixture(scope="session")
def other_key() -> Key:
    return Key.generate()


@pytest.fixture
def push_image(oci_registry: LocalRegistry) -> Callable[..., tuple[str, str]]:
    """Pushes a fresh image (optionally with /playbook-schema.json) to a new repository; returns (repository, digest)."""

    def push(document: dict | None = None, tag: str = "1.0.0") -> tuple[str, str]:
        repository = f"acme/signed-{next(_repos)}"
        stack = [oci.layer({"bin/remediate.sh": f"#!/bin/sh\necho {repository}\n".encode()})]
        if document is not None:
            stack.append(oci.schema_layer(document))
        return repository, oci_registry.pusher.push_image(repository, tag, oci.image(*stack))

    return push
