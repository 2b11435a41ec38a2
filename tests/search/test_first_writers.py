"""The first writers of a new catalog: the embedding index is created once, and never inside a writer's transaction.

Creating it inside the transaction that inserted a version deadlocked two first registrations (one held the
schema lock and waited for the other's lock on the search tables, which waited for the schema lock). Each
service here has its own connections and caches, as separate processes (Lambda environments) would.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from chalicelib.adapters.embeddings.hashed import HashedEmbedder
from chalicelib.domain.workflows import parse_new_version
from chalicelib.services.search import SearchService
from chalicelib.services.workflows import WorkflowService
from chalicelib.stores.db import Database, dsn_factory
from chalicelib.stores.migrations import apply_migrations
from tests.support.database import fresh_database

WRITERS = 6


def version(n: int) -> dict[str, object]:
    return {"workflow_id": f"first-{n}", "version": "1.0.0", "title": f"Restart crash looping pod {n}",
            "description": "Restarts it.", "labels": {"signal_type": "*", "severity": "*", "environment": "*",
                                                      "component": "*"},
            "container_image": f"ghcr.io/acme/first-{n}:1.0.0@sha256:{n:064x}", "parameters": {"type": "object"}}


def create(catalog: WorkflowService, n: int, start: threading.Barrier) -> bool:
    start.wait()
    return catalog.create_version(parse_new_version(version(n)), "test").created


def test_concurrent_first_writers_of_a_new_catalog_all_succeed(database_url: str) -> None:
    for attempt in range(3):  # the deadlock needed two writers to meet inside one window: give them several
        url = fresh_database(database_url, "first_writers")
        databases = [Database(dsn_factory(url), 2) for _ in range(WRITERS)]
        apply_migrations(databases[0])
        catalogs = [WorkflowService(db, SearchService(db, HashedEmbedder())) for db in databases]
        start = threading.Barrier(WRITERS)

        with ThreadPoolExecutor(WRITERS) as pool:
            created = list(pool.map(create, catalogs, range(WRITERS), [start] * WRITERS))
        assert created == [True] * WRITERS, f"attempt {attempt}"
        with databases[0].reading() as cur:
            cur.execute("SELECT count(*) AS n FROM search_documents")
            assert cur.one()["n"] == WRITERS
            cur.execute("SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'search_candidates_embedding_hnsw'")
            assert cur.one()["n"] == 1
        for db in databases:
            db.close()
