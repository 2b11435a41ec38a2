"""Fixtures for registration tests: the loopback registry, resources, images, catalog snapshots."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import oci
from tests.support.registrations import catalog_settings
from tests.support.registry import LocalRegistry

_repos = itertools.count()


@pytest.fixture
def push(oci_registry: LocalRegistry) -> Callable[..., tuple[str, str]]:
    """Pushes an image with the given /playbook-schema.json (or layers); returns (reference, digest)."""

    def push_image(document: dict | bytes | None = None, *layers: oci.Layer, tag: str = "1.0.0") -> tuple[str, str]:
        repository = f"acme/workflow-{next(_repos)}"
        stack = [oci.layer({"bin/remediate.sh": b"#!/bin/sh\necho fixing\n"})]
        if document is not None:
            stack.append(oci.schema_layer(document))
        image = oci.image(*stack, *layers)
        digest = oci_registry.pusher.push_image(repository, tag, image)
        return oci_registry.reference(repository, tag), digest

    return push_image


@pytest.fixture
def no_reconcile_grace(db: Any) -> Iterator[None]:
    """Reconciliation considers sources registered a moment ago (tests reconcile right after registering)."""
    with catalog_settings(RECONCILE_GRACE_SECONDS="0"):
        yield
