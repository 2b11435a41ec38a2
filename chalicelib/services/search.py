"""Search use cases: rank the catalog for an incident, index versions as they are written, and
re-embed the whole catalog after an embedding provider or dimension change.

Label filters are hard (chalicelib/stores/label_filter.py, the SQL form of domain/labels.py):
similarity only ranks inside the filtered set. The store returns each candidate's raw signals;
the scoring rule (domain/search.py) turns them into the score and its explanation, and the order
is total: score descending, then workflow_id. domain/confidence.py judges from the same signals
whether the top result really fits (`confident`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TextIO

from chalicelib import metrics
from chalicelib.adapters.embeddings import Embedder
from chalicelib.adapters.embeddings.cache import QueryEmbeddingCache
from chalicelib.domain import confidence
from chalicelib.domain.composite import Composition
from chalicelib.domain.effectiveness import TrackRecord
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.labels import matches
from chalicelib.domain.rows import Row
from chalicelib.domain.search import (
    Hit,
    IndexEntry,
    SearchRequest,
    document_fields,
    embedding_text,
    explain,
    searchable_description,
    split_camel_case,
)
from chalicelib.domain.workflows import NewVersion
from chalicelib.observability import logger
from chalicelib.services import composites
from chalicelib.stores import effectiveness_store
from chalicelib.stores import search_store as store
from chalicelib.stores.db import Database, UnitOfWork

# With a query, the nearest POOL_FACTOR x top_k (at least MIN_POOL) filtered versions are re-scored
# with the full-text and label signals: the semantic neighbourhood bounds the work per search.
MIN_POOL, POOL_FACTOR = 40, 3
REEMBED_BATCH = 64
NO_RECORD: Row = {}  # a workflow never executed (for the signal): every count 0
FOLD_SECONDS = 2.0


class SearchService:
    def __init__(self, db: Database, embedder: Embedder, query_cache_size: int = 1024) -> None:
        self._db = db
        self._embedder = embedder
        self._queries = QueryEmbeddingCache(embedder, query_cache_size)
        self._ready = False
        self._mismatch: Row | None = None
        self._fold_lock = threading.Lock()
        self._folded_at = float("-inf")

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def clear_query_cache(self) -> None:
        self._queries.clear()

    # --- start-up -----------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        """Records the configured provider and creates its HNSW index when the catalog has none yet.

        When the stored vectors come from another provider or dimension, search answers 503 until
        the re-embed command runs; catalog writes keep working (their vectors wait for it).
        """
        if self._ready:
            return
        with self._db.transaction() as tx:
            usable = self._check_vectors(tx)
        if usable:  # committed: the provider (and its index, if this call created it) is recorded
            self._ready, self._mismatch = True, None

    def _check_vectors(self, tx: UnitOfWork) -> bool:
        """True when vectors of the configured provider can be written and searched."""
        if self._ready:
            return True
        store.lock_schema(tx)
        meta = store.embedding_meta(tx)
        if meta is None:
            store.record_provider(tx, self._embedder.name, self._embedder.dimensions)
            store.drop_hnsw_index(tx)  # a leftover of unknown dimension (e.g. from a restored dump)
            store.create_hnsw_index(tx, self._embedder.dimensions)
            logger.info("search embedding index created",
                        extra={"provider": self._embedder.name, "dimensions": self._embedder.dimensions})
            return True  # not cached: the caller's transaction may still roll back
        if (meta["provider"], meta["dimensions"]) == (self._embedder.name, self._embedder.dimensions):
            self._ready, self._mismatch = True, None
            return True
        if self._mismatch != meta:
            logger.error("search vectors come from another embedding provider; run the re-embed command",
                         extra={"stored_provider": meta["provider"], "stored_dimensions": meta["dimensions"],
                                "provider": self._embedder.name, "dimensions": self._embedder.dimensions})
        self._mismatch = meta
        return False

    # --- indexing (the catalog's SearchIndexer port) --------------------------------------------
    def prepare(self, new: NewVersion, step_titles: Sequence[str] = ()) -> IndexEntry:
        """The version's index entry, computed before any transaction opens: the embedding may be slow
        (Bedrock is a network call), and no database lock may wait for it. A composite's text includes the
        titles of its steps' workflows.

        The embedding index is made ready here, in a transaction of its own: created inside a writer's
        transaction (which already holds row locks on the search tables), two first writers deadlock, one
        waiting for the schema lock and the other, holding it, for the first one's table lock."""
        self.ensure_ready()
        description = searchable_description(new.description, step_titles)
        vector = self._embedder.embed([embedding_text(new.title, description)])[0]
        return IndexEntry(*document_fields(new.title, description, new.labels), vector=list(vector))

    def index_version(self, tx: UnitOfWork, version_id: int, entry: IndexEntry) -> None:
        """Writes the entry of a just-inserted version, in the caller's transaction. The vector is kept only
        when the stored vectors come from the configured provider (else it waits for the re-embed command)."""
        vector = entry.vector if self._check_vectors(tx) else None
        store.index_document(tx, version_id, entry.title, entry.body, entry.labels, vector)

    def settle(self) -> None:
        """Upkeep after indexing commits: folds the corpus statistics at most every FOLD_SECONDS per process,
        so the deltas a search adds up stay few (writers never wait on it; see search_store)."""
        now = time.monotonic()
        with self._fold_lock:
            if now - self._folded_at < FOLD_SECONDS:
                return
            self._folded_at = now
        try:
            with self._db.transaction() as tx:
                store.fold_statistics(tx)
        except ServiceUnavailable:  # searches stay exact without it; the next write folds
            logger.warning("could not fold search statistics; will retry on a later write")

    # --- searching ----------------------------------------------------------------------------
    def search(self, request: SearchRequest) -> Ranking:
        """The ranked hits, the signals behind `confident` (bench/confidence_fit.py fits its model on them) and the
        decision; http/views.py search_view shapes the response."""
        started = time.perf_counter()
        self.ensure_ready()
        if self._mismatch is not None:
            raise ServiceUnavailable(
                "Search is unavailable until the catalog is re-embedded for the configured embedding provider "
                f"({self._embedder.name}, {self._embedder.dimensions} dimensions); run the re-embed command."
            )
        vector = self._queries.embed_query(request.query) if request.query else None
        if vector is not None and not any(vector):
            vector = None  # no word in the query to compare: rank by text and labels only
        pool = max(MIN_POOL, POOL_FACTOR * request.top_k) if request.query else request.top_k
        filters = request.constraining_labels
        query_text = split_camel_case(request.query) if request.query else None
        with self._db.transaction() as tx:
            candidates = store.candidates(tx, query_text, vector, filters, pool)
            scored = [(explain(bool(request.query), row["semantic"], row["text"], row["label_points"], []), row)
                      for row in candidates]
            scored.sort(key=lambda pair: (-pair[0].score, pair[1]["workflow_id"]))
            # Judged on the whole pool: min_score and top_k trim the answer, not the evidence.
            found = None
            if query_text and scored:
                extra = store.confidence_signals(tx, scored[0][1]["version_id"], query_text,
                                                 confidence.plain_words(query_text))
                steps_of = store.composite_steps(tx, [row["version_id"] for _, row in scored])
                found = confidence.signals([row for _, row in scored], MIN_POOL, extra["title_coverage"],
                                           extra["query_coverage"],
                                           confidence.family_of(scored[0][1]["workflow_id"], steps_of))
            top = [pair for pair in scored if pair[0].score >= request.min_score][: request.top_k]
            versions = store.versions_by_id(tx, [row["version_id"] for _, row in top])
            # What the results' workflows came to, for the incident's signal (or overall): shown, never ranked by.
            signal = request.labels["signal_type"].strip() if "signal_type" in filters else None
            records = effectiveness_store.track_records(tx, [row["workflow_id"] for _, row in top], signal)
        hits = [
            Hit(rank, versions[row["version_id"]],
                replace(explanation, matched_labels=matched_labels(versions[row["version_id"]]["labels"], filters)),
                TrackRecord.of_row(records.get(row["workflow_id"], NO_RECORD)), signal)
            for rank, (explanation, row) in enumerate(top, start=1)
        ]
        confident = confidence.is_confident(bool(request.query), len(hits), found)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        metrics.milliseconds(metrics.SEARCH_LATENCY, duration_ms)
        logger.info("search", extra={
            "results": len(hits), "candidates": len(candidates), "label_filters": sorted(filters),
            "top_workflow_id": hits[0].workflow_id if hits else None, "confident": confident,
            # The model's probability, so the threshold can be reviewed against real traffic.
            "confidence": round(confidence.probability(found), 4) if found else None,
            "duration_ms": duration_ms,
        })
        return Ranking(hits, found, confident)

    # --- administration -----------------------------------------------------------------------
    def reembed(self, progress: Callable[[int, int], None] | None = None, batch_size: int = REEMBED_BATCH) -> int:
        """Rebuilds every version's search document and vector with the configured provider; returns the count.

        One transaction: searches wait for it (the tables are locked) and a failure leaves the
        previous index intact. ``progress(done, total)`` is called after every batch.
        """
        with self._db.transaction() as tx:
            store.lock_schema(tx)
            store.allow_long_statements(tx)
            store.drop_hnsw_index(tx)
            store.record_provider(tx, self._embedder.name, self._embedder.dimensions)
            store.clear_index(tx)
            store.create_staging(tx)
            total, done = store.count_versions(tx), 0
            for batch in store.versions_to_index(tx, batch_size):
                descriptions = [_description(tx, r) for r in batch]
                vectors = self._embedder.embed([embedding_text(r["title"], d) for r, d in zip(batch, descriptions,
                                                                                             strict=True)])
                store.stage_documents(tx, [
                    (r["id"], *document_fields(r["title"], d, r["labels"]), vector)
                    for r, d, vector in zip(batch, descriptions, vectors, strict=True)
                ])
                done += len(batch)
                if progress is not None:
                    progress(done, total)
            store.load_staged_documents(tx)
            store.create_hnsw_index(tx, self._embedder.dimensions)
        self._ready, self._mismatch = True, None
        self.clear_query_cache()
        logger.info("catalog re-embedded", extra={"versions": done, "provider": self._embedder.name,
                                                  "dimensions": self._embedder.dimensions})
        return done


@dataclass(frozen=True)
class Ranking:
    """A search's hits, the signals of its top candidate (None without candidates) and the decision."""

    hits: list[Hit]
    signals: confidence.Signals | None
    confident: bool


def _description(tx: UnitOfWork, row: Row) -> str:
    """A stored version's description as search indexes it (a composite's with its steps' titles, as they
    resolve now)."""
    if row["composition"] is None:
        return str(row["description"])
    titles = composites.step_titles(tx, row["workflow_id"], Composition.from_content(row["composition"]))
    return searchable_description(row["description"], titles)


def matched_labels(workflow_labels: Row, filters: dict[str, str]) -> list[str]:
    """Request labels the workflow declares and satisfies (absent optional labels pass, but do not count)."""
    return [key for key, wanted in sorted(filters.items()) if key in workflow_labels
            and matches(workflow_labels[key], wanted)]


def progress_bar(stream: TextIO | None = None, width: int = 40) -> Callable[[int, int], None]:
    """A text progress bar for the re-embed command: ``[#######.....]  120/500 versions``."""
    stream = stream or sys.stderr  # looked up at call time, so a redirected stderr is honoured

    def show(done: int, total: int) -> None:
        filled = width if total == 0 else width * done // total
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total} versions")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show
