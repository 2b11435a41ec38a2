"""Fixtures for registration tests: the loopback registry, resources, images, catalog snapshots."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from chalicelib.container import services
from chalicelib.stores.db import Database
from tests.support import oci
from tests.support.registry import LocalRegistry

# Registration bookkeeping and credentials are not catalog content.
NOT_CATALOG = ("registrations", "api_keys", "schema_migrations")
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


def catalog_dump(db: Database) -> dict[str, list[str]]:
    """Every row of every catalog table, as text, in a stable order."""
    with db.reading() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row["tablename"] for row in cur.fetchall() if row["tablename"] not in NOT_CATALOG]
        dump = {}
        for table in tables:
            cur.execute(f"SELECT to_jsonb(t)::text AS row FROM {table} t ORDER BY 1")
            dump[table] = [row["row"] for row in cur.fetchall()]
    return dump


def wait_for_jobs() -> None:
    services().dispatcher.wait_idle(timeout=30)  # type: ignore[attr-defined]
