"""BM25 corpus statistics: writers only append deltas (no shared hot row), and searches stay exact.

Ground truth is recomputed from the indexed documents themselves; the statistics a search reads
(folded rows plus pending deltas) must equal it before a fold, after a fold and after concurrent writers.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.container import services
from chalicelib.services import search as search_service
from chalicelib.stores import search_store
from chalicelib.stores.db import Database
from tests.support.api import ApiClient
from tests.support.search import ids, publish, search


def truth(db: Database) -> tuple[dict[str, int], tuple[int, int, int]]:
    with db.reading() as cur:
        cur.execute("SELECT u.lexeme, count(*) AS n FROM search_documents d, unnest(d.document) u GROUP BY u.lexeme")
        terms = {row["lexeme"]: row["n"] for row in cur.fetchall()}
        cur.execute("SELECT count(*) AS n, coalesce(sum(title_length), 0) AS t, coalesce(sum(body_length), 0) AS b "
                    "FROM search_documents")
        row = cur.fetchone()
    return terms, (row["n"], row["t"], row["b"])


def read_by_search(db: Database) -> tuple[dict[str, int], tuple[int, int, int]]:
    """Folded statistics plus pending deltas, as the search statement adds them up."""
    with db.reading() as cur:
        cur.execute("""SELECT lexeme, sum(doc_count) AS n FROM (
                           SELECT lexeme, doc_count FROM search_terms
                           UNION ALL SELECT lexeme, doc_count FROM search_term_deltas) s
                       GROUP BY lexeme HAVING sum(doc_count) > 0""")
        terms = {row["lexeme"]: row["n"] for row in cur.fetchall()}
        cur.execute("""SELECT sum(documents) AS n, sum(title_tokens) AS t, sum(body_tokens) AS b FROM (
                           SELECT documents, title_tokens, body_tokens FROM search_corpus
                           UNION ALL SELECT documents, title_tokens, body_tokens FROM search_corpus_deltas) s""")
        row = cur.fetchone()
    return terms, (row["n"] or 0, row["t"] or 0, row["b"] or 0)


def pending(db: Database) -> int:
    with db.reading() as cur:
        cur.execute("SELECT count(*) AS n FROM search_term_deltas")
        return cur.fetchone()["n"]


def test_writes_append_deltas_and_a_fold_keeps_statistics_exact(
    client: ApiClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writers fold at most every FOLD_SECONDS: whether one of these writes folds would depend on when the
    # previous test last folded. This test folds explicitly, so no write may fold on its own.
    monkeypatch.setattr(search_service, "FOLD_SECONDS", float("inf"))
    for n in range(4):
        publish(client, f"wf-{n}", title=f"Restart crash looping pod {n}", description="KubePodCrashLooping fix")
    assert pending(db) > 0
    assert read_by_search(db) == truth(db)
    before = ids(search(client, query="crash looping pod"))
    with db.transaction() as cur:
        assert search_store.fold_statistics(cur) is True
    assert pending(db) == 0
    assert read_by_search(db) == truth(db)
    assert ids(search(client, query="crash looping pod")) == before  # same statistics, same ranking


def test_one_folder_at_a_time_and_writers_never_wait_for_it(client: ApiClient, db: Database) -> None:
    publish(client, "first", title="Clean up a full node disk")
    folder = Database(services().db._connect, max_connections=1)
    with folder.transaction() as cur:
        assert search_store.fold_statistics(cur) is True
        # While this fold is open: a second folder backs off, and a writer is not blocked.
        with db.transaction() as other:
            assert search_store.fold_statistics(other) is False
        publish(client, "second", title="Expand a persistent volume claim")
    folder.close()
    assert read_by_search(db) == truth(db)


def test_concurrent_writers_share_no_row_and_lose_no_count(client: ApiClient, db: Database) -> None:
    errors: list[Any] = []

    def write(index: int) -> None:
        try:
            for n in range(5):
                publish(client, f"w{index}-{n}", title=f"Roll back a crash looping deployment {index} {n}")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert truth(db)[1][0] == 40
    assert read_by_search(db) == truth(db)
