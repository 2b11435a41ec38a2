"""A provider/dimension change: writes keep working, search answers 503 until the re-embed command runs."""

from __future__ import annotations

import io
from typing import Any

import pytest

from chalicelib.adapters.embeddings.hashed import HashedEmbedder
from chalicelib.container import services
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.search import SearchRequest
from chalicelib.domain.workflows import parse_new_version
from chalicelib.services.search import SearchService, progress_bar
from chalicelib.services.workflows import WorkflowService
from tests.support.api import ApiClient
from tests.support.search import publish


def new_version(workflow_id: str, title: str) -> Any:
    return parse_new_version({
        "workflow_id": workflow_id, "version": "1.0.0", "title": title, "description": title,
        "labels": {"signal_type": "*", "severity": "*", "environment": "*", "component": "*"},
        "container_image": f"ghcr.io/acme/{workflow_id}:1@sha256:{'a' * 64}",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    })


def test_provider_change_then_reembed(client: ApiClient, db: Any) -> None:
    services().search.reembed()  # the catalog's vectors come from the configured provider
    publish(client, "disk-cleanup", title="Clean up a full node disk")
    smaller = SearchService(db, HashedEmbedder(64))
    try:
        # Writes with the new provider keep working while the stored vectors are from the old one.
        WorkflowService(db, indexer=smaller).create_version(new_version("pod-restart", "Restart crash looping pod"), "t")
        with pytest.raises(ServiceUnavailable, match="re-embed"):
            smaller.search(SearchRequest(query="disk full"))
        out = io.StringIO()
        assert smaller.reembed(progress=progress_bar(out, width=10), batch_size=1) == 2
        assert out.getvalue().endswith("[##########] 2/2 versions\n")
        hits = smaller.search(SearchRequest(query="crash looping pod")).hits
        assert hits[0].workflow_id == "pod-restart"
        assert hits[0].explanation.semantic > 0
        with db.reading() as cur:
            cur.execute("SELECT provider, dimensions FROM search_embedding_meta")
            assert cur.fetchone() == {"provider": "default-hashed-v1", "dimensions": 64}
    finally:
        services().search.reembed()  # back to the configured provider for the other tests
    assert services().search.search(SearchRequest(query="disk full")).hits[0].workflow_id == "disk-cleanup"
