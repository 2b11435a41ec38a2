"""SQL of search: the per-version search document and vector, corpus statistics, the HNSW index of
the searchable set (search_candidates, kept by the triggers of migration 002), and the two
statements a search issues (candidates with their raw signals, then the rows of the winners).

Ranking signals computed here, each in [0, 1]:
- semantic: cosine similarity of the query vector to the version's vector (pgvector, HNSW index);
- text: BM25F over the PostgreSQL full-text document (title x3 with light length normalisation,
  description with standard normalisation, label values x1), divided by the best score the query
  could reach, so it is comparable across queries;
- label points: the share of constraining request labels the workflow declares with that value (1)
  or as "*" (0.5); see chalicelib/domain/search.py.
Every caller-supplied value (label keys included) is a bound parameter, never part of the SQL text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from chalicelib.domain.labels import WILDCARD
from chalicelib.domain.limits import REQUIRED_LABELS
from chalicelib.domain.rows import Row
from chalicelib.domain.search import EXACT_POINTS, WILDCARD_POINTS
from chalicelib.stores.db import UnitOfWork
from chalicelib.stores.guard_store import circuit_join
from chalicelib.stores.label_filter import label_filter_sql

TS_CONFIG = "catalog_english"
HNSW_INDEX = "search_candidates_embedding_hnsw"
LOCK_KEY = 7_246_311_902  # serialises changes of the embedding provider/index across processes
FOLD_LOCK_KEY = 7_246_311_903  # one statistics folder at a time
# BM25F parameters (Robertson & Zaragoza's usual values; title weight and normalisation from the
# plateau measured by bench/search_quality.py).
K1, TITLE_WEIGHT, TITLE_B, BODY_B, LABEL_WEIGHT = 1.2, 3.0, 0.3, 0.75, 1.0


# --- embedding index --------------------------------------------------------------------------
def embedding_meta(tx: UnitOfWork) -> Row | None:
    tx.execute("SELECT provider, dimensions FROM search_embedding_meta")
    return tx.fetchone()


def lock_schema(tx: UnitOfWork) -> None:
    tx.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))


def allow_long_statements(tx: UnitOfWork) -> None:
    """Lifts the per-statement timeout for this transaction (bulk indexing, HNSW builds)."""
    tx.execute("SET LOCAL statement_timeout = 0")
    tx.execute("SET LOCAL maintenance_work_mem = '512MB'")


def record_provider(tx: UnitOfWork, provider: str, dimensions: int) -> None:
    tx.execute(
        """INSERT INTO search_embedding_meta (provider, dimensions) VALUES (%s, %s)
           ON CONFLICT (id) DO UPDATE SET provider = EXCLUDED.provider, dimensions = EXCLUDED.dimensions,
                                          updated_at = now()""",
        (provider, dimensions),
    )


def drop_hnsw_index(tx: UnitOfWork) -> None:
    tx.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")


def create_hnsw_index(tx: UnitOfWork, dimensions: int) -> None:
    """HNSW (cosine) over the searchable set, as an expression index for the configured dimension."""
    # The dimension is an integer from validated configuration, never caller input.
    tx.execute(f"CREATE INDEX IF NOT EXISTS {HNSW_INDEX} ON search_candidates "
                f"USING hnsw ((embedding::vector({int(dimensions)})) vector_cosine_ops)")


# --- indexing ---------------------------------------------------------------------------------
# Weight A = title, B = description, C = label values; CamelCase is split by the caller beforehand.
_DOCUMENT_FROM_SOURCE = f"""
    SELECT src.version_id, t || b || l AS document,
           (SELECT coalesce(sum(cardinality(positions)), 0) FROM unnest(t)) AS title_length,
           (SELECT coalesce(sum(cardinality(positions)), 0) FROM unnest(b)) AS body_length,
           src.embedding
    FROM {{source}} AS src,
         LATERAL (SELECT setweight(to_tsvector('{TS_CONFIG}', coalesce(src.title, '')), 'A') AS t,
                         setweight(to_tsvector('{TS_CONFIG}', coalesce(src.body, '')), 'B') AS b,
                         setweight(to_tsvector('{TS_CONFIG}', coalesce(src.labels, '')), 'C') AS l) AS parts"""


def index_document(tx: UnitOfWork, version_id: int, title: str, body: str, labels_text: str,
                   embedding: Sequence[float] | None) -> None:
    """Writes the version's search document and vector, and appends its share of the corpus statistics
    (only inserts: concurrent writers share no row; ``fold_statistics`` merges the shares later)."""
    source = ("(SELECT %(id)s::bigint AS version_id, %(title)s::text AS title, %(body)s::text AS body,"
              " %(labels)s::text AS labels, %(embedding)s::vector AS embedding)")
    tx.execute(
        f"""WITH doc AS (
                INSERT INTO search_documents (version_id, document, title_length, body_length, embedding)
                {_DOCUMENT_FROM_SOURCE.format(source=source)}
                ON CONFLICT (version_id) DO NOTHING
                RETURNING document, title_length, body_length
            ), terms AS (
                INSERT INTO search_term_deltas (lexeme, doc_count)
                SELECT u.lexeme, 1 FROM doc, unnest(doc.document) AS u
            )
            INSERT INTO search_corpus_deltas (documents, title_tokens, body_tokens)
            SELECT count(*), coalesce(sum(title_length), 0), coalesce(sum(body_length), 0) FROM doc
            HAVING count(*) > 0""",
        {"id": version_id, "title": title, "body": body, "labels": labels_text, "embedding": _vector(embedding)},
    )


STAGING_TABLE = "search_staging"
STAGING_COLUMNS = ("version_id", "title", "body", "labels", "embedding")


def create_staging(tx: UnitOfWork) -> None:
    """A temporary table for bulk loads (COPY STAGING_COLUMNS into it, then load_staged_documents)."""
    tx.execute(f"""CREATE TEMP TABLE {STAGING_TABLE} (version_id bigint, title text, body text, labels text,
                                                         embedding text) ON COMMIT DROP""")


def stage_documents(tx: UnitOfWork, rows: Iterable[tuple[int, str, str, str, Sequence[float] | None]]) -> None:
    """COPYs (version_id, title, body, labels text, embedding) rows into the staging table (CSV: an empty
    text arrives as NULL, which the document expression reads as empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for version_id, title, body, labels, embedding in rows:
        writer.writerow((version_id, title, body, labels, _vector(embedding)))
    buffer.seek(0)
    tx.copy_from_csv(f"COPY {STAGING_TABLE} ({', '.join(STAGING_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer)


def load_staged_documents(tx: UnitOfWork) -> None:
    """Indexes every staged row (replacing nothing: call clear_index first) and recomputes statistics."""
    source = f"(SELECT version_id, title, body, labels, embedding::vector FROM {STAGING_TABLE})"
    tx.execute(
        "INSERT INTO search_documents (version_id, document, title_length, body_length, embedding)"
        + _DOCUMENT_FROM_SOURCE.format(source=source)
    )
    recompute_statistics(tx)


def versions_to_index(tx: UnitOfWork, batch_size: int) -> Iterator[Sequence[Row]]:
    """Every version (any status: a draft can become active later), in id order, in batches."""
    last = 0
    while True:
        tx.execute(
            """SELECT id, workflow_id, version, title, description, labels, composition FROM workflow_versions
               WHERE id > %s ORDER BY id LIMIT %s""",
            (last, batch_size),
        )
        rows = tx.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def count_versions(tx: UnitOfWork) -> int:
    tx.execute("SELECT count(*) AS n FROM workflow_versions")
    return tx.one()["n"]


def clear_index(tx: UnitOfWork) -> None:
    tx.execute("TRUNCATE search_documents, search_candidates, search_terms, search_corpus, "
                "search_term_deltas, search_corpus_deltas")


def fold_statistics(tx: UnitOfWork) -> bool:
    """Moves the statistics deltas committed so far into search_terms and search_corpus, in the caller's
    transaction; False (and nothing done) when another transaction is folding right now.

    Writers never wait for this: they only insert deltas, and deltas committed after this statement
    started stay for the next fold. Searches read folded and pending statistics alike.
    """
    tx.execute("SELECT pg_try_advisory_xact_lock(%s) AS mine", (FOLD_LOCK_KEY,))
    if not tx.one()["mine"]:
        return False
    tx.execute(
        """WITH moved AS (DELETE FROM search_term_deltas RETURNING lexeme, doc_count)
           INSERT INTO search_terms AS t (lexeme, doc_count)
           SELECT lexeme, sum(doc_count) FROM moved GROUP BY lexeme ORDER BY lexeme
           ON CONFLICT (lexeme) DO UPDATE SET doc_count = t.doc_count + EXCLUDED.doc_count"""
    )
    tx.execute(
        """WITH moved AS (DELETE FROM search_corpus_deltas RETURNING documents, title_tokens, body_tokens)
           INSERT INTO search_corpus AS c (documents, title_tokens, body_tokens)
           SELECT sum(documents), sum(title_tokens), sum(body_tokens) FROM moved HAVING count(*) > 0
           ON CONFLICT (id) DO UPDATE SET documents = c.documents + EXCLUDED.documents,
                                          title_tokens = c.title_tokens + EXCLUDED.title_tokens,
                                          body_tokens = c.body_tokens + EXCLUDED.body_tokens"""
    )
    return True


def recompute_statistics(tx: UnitOfWork) -> None:
    """Recomputes search_terms and search_corpus from the documents (after a bulk load)."""
    tx.execute("TRUNCATE search_terms, search_term_deltas, search_corpus_deltas")
    tx.execute(
        """INSERT INTO search_terms (lexeme, doc_count)
           SELECT u.lexeme, count(*) FROM search_documents d, unnest(d.document) AS u GROUP BY u.lexeme"""
    )
    tx.execute(
        """INSERT INTO search_corpus (documents, title_tokens, body_tokens)
           SELECT count(*), coalesce(sum(title_length), 0), coalesce(sum(body_length), 0) FROM search_documents
           ON CONFLICT (id) DO UPDATE SET documents = EXCLUDED.documents, title_tokens = EXCLUDED.title_tokens,
                                          body_tokens = EXCLUDED.body_tokens"""
    )


def _vector(values: Sequence[float] | None) -> str | None:
    """pgvector's text form; used instead of the adapter so a NULL and a vector bind the same way."""
    return None if values is None else "[" + ",".join(repr(float(x)) for x in values) + "]"


# --- searching --------------------------------------------------------------------------------
def candidates(tx: UnitOfWork, query_text: str | None, vector: Sequence[float] | None,
               filters: Mapping[str, str], pool: int) -> Sequence[Row]:
    """Up to ``pool`` candidates from the searchable set (latest active versions of enabled workflows)
    that pass every label filter.

    With a vector, the ``pool`` nearest; PostgreSQL picks the HNSW index (relaxed-order iterative
    scan, so filters do not starve it) or, for selective filters, the label GIN index and an exact
    sort. Without, the ones with most label points. Returns version_id, workflow_id, semantic, text,
    label_points.
    """
    sql, params = candidates_sql(query_text, vector, filters, pool)
    tx.execute(sql, params)
    return tx.fetchall()


def candidates_sql(query_text: str | None, vector: Sequence[float] | None, filters: Mapping[str, str],
                   pool: int) -> tuple[str, list[Any]]:
    """The candidate statement and its positional parameters (exposed for the latency floor)."""
    constraining = {k: v for k, v in sorted(filters.items()) if v != WILDCARD}
    # Optional labels: the shared rule (an undeclared optional label does not exclude). Required
    # labels are always declared, so for them the same rule reduces to "has key=value or key=*",
    # which the GIN index serves and the planner can estimate (the truth-table tests cover both).
    filter_sql, filter_params = label_filter_sql(
        {k: v for k, v in constraining.items() if k not in REQUIRED_LABELS}, alias="c")
    for key in (k for k in constraining if k in REQUIRED_LABELS):
        filter_sql += " AND c.label_tokens && ARRAY[%s, %s]::text[]"
        filter_params += [f"{key}={constraining[key]}", f"{key}={WILDCARD}"]
    points_sql, points_params = _label_points_sql(constraining)
    params: list[Any] = []
    settings = ""
    if vector is not None:
        dims = len(vector)
        # Relaxed-order iterative scans keep reading the graph until `pool` rows pass the filters.
        settings = (f"SET LOCAL hnsw.ef_search = {max(40, int(pool))}; "
                    "SET LOCAL hnsw.iterative_scan = relaxed_order; ")
        distance = f"c.embedding::vector({dims}) <=> %s::vector({dims})"
        vec = _vector(vector)
        params += [vec, *points_params, *filter_params, vec]
        order = distance
    else:
        distance, order = "NULL::float8", f"({points_sql}) DESC, c.workflow_id"
        params += [*points_params, *filter_params, *points_params]
    params += [pool, query_text or ""]
    sql = f"""{settings}
WITH cand AS (
    SELECT c.version_id, c.workflow_id, {distance} AS distance, ({points_sql}) AS points
    FROM search_candidates c
    WHERE {filter_sql}
    ORDER BY {order}
    LIMIT %s
), corpus_totals AS (
    -- Folded statistics plus the deltas not folded yet (see fold_statistics): always exact.
    SELECT coalesce((SELECT documents FROM search_corpus), 0) + coalesce(sum(d.documents), 0) AS documents,
           coalesce((SELECT title_tokens FROM search_corpus), 0) + coalesce(sum(d.title_tokens), 0) AS title_tokens,
           coalesce((SELECT body_tokens FROM search_corpus), 0) + coalesce(sum(d.body_tokens), 0) AS body_tokens
    FROM search_corpus_deltas d
), corpus AS (
    SELECT greatest(s.documents, 1) AS n,
           greatest(s.title_tokens::float8 / greatest(s.documents, 1), 1) AS avg_title,
           greatest(s.body_tokens::float8 / greatest(s.documents, 1), 1) AS avg_body
    FROM corpus_totals s
), query_terms AS (
    -- The query's distinct lexemes and their IDF, as two arrays: the scoring below looks them up by
    -- position instead of joining, which keeps the plan linear in the candidates' lexemes.
    SELECT coalesce(array_agg(q.lexeme ORDER BY q.lexeme), '{{}}') AS lexemes,
           coalesce(array_agg(ln(1 + (c.n - q.doc_count + 0.5) / (q.doc_count + 0.5)) ORDER BY q.lexeme),
                    '{{}}') AS idfs
    FROM (SELECT l.lexeme,
                 coalesce((SELECT t.doc_count FROM search_terms t WHERE t.lexeme = l.lexeme), 0)
                   + coalesce((SELECT sum(d.doc_count) FROM search_term_deltas d WHERE d.lexeme = l.lexeme), 0)
                   AS doc_count
          FROM (SELECT DISTINCT lexeme FROM unnest(to_tsvector('{TS_CONFIG}', %s))) AS l) AS q
    CROSS JOIN corpus c
), best AS (
    SELECT (SELECT sum(x) FROM unnest(idfs) AS x) * ({K1} + 1) AS score FROM query_terms
), bm25 AS (
    SELECT f.version_id, sum(f.idf * f.tf * ({K1} + 1) / (f.tf + {K1})) AS score
    FROM (
        SELECT c.version_id, q.idfs[array_position(q.lexemes, u.lexeme)] AS idf,
               {TITLE_WEIGHT} * cardinality(array_positions(u.weights, 'A'))
                   / (1 - {TITLE_B} + {TITLE_B} * d.title_length / k.avg_title)
             + cardinality(array_positions(u.weights, 'B'))
                   / (1 - {BODY_B} + {BODY_B} * d.body_length / k.avg_body)
             + {LABEL_WEIGHT} * cardinality(array_positions(u.weights, 'C')) AS tf
        FROM cand c
        JOIN search_documents d ON d.version_id = c.version_id
        CROSS JOIN corpus k
        CROSS JOIN query_terms q
        CROSS JOIN LATERAL unnest(d.document) AS u
        WHERE u.lexeme = ANY (q.lexemes)
    ) AS f
    GROUP BY f.version_id
)
SELECT c.version_id, c.workflow_id,
       CASE WHEN c.distance IS NULL OR c.distance = 'NaN'::float8 THEN 0 ELSE greatest(0, 1 - c.distance) END
           AS semantic,
       coalesce(b.score / nullif(best.score, 0), 0) AS text,
       coalesce(c.points, 0) AS label_points
FROM cand c CROSS JOIN best LEFT JOIN bm25 b ON b.version_id = c.version_id"""
    return sql, params


def _label_points_sql(constraining: Mapping[str, str]) -> tuple[str, list[str]]:
    """Share of constraining labels matched exactly (EXACT_POINTS) or by a declared "*" (WILDCARD_POINTS)."""
    if not constraining:
        return "0::float8", []
    terms, params = [], []
    for key, value in constraining.items():
        terms.append(f"CASE WHEN c.label_tokens @> ARRAY[%s]::text[] THEN {EXACT_POINTS}"
                     f" WHEN c.label_tokens @> ARRAY[%s]::text[] THEN {WILDCARD_POINTS} ELSE 0 END")
        params += [f"{key}={value}", f"{key}={WILDCARD}"]
    return f"(({' + '.join(terms)}) / {len(constraining)})::float8", params


def versions_by_id(tx: UnitOfWork, ids: Sequence[int]) -> dict[int, Row]:
    """The versions to show, with the circuit of their workflow (README, "Guardrails"; ranking never reads it)."""
    tx.execute(
        f"""SELECT v.id, v.workflow_id, v.version, v.title, v.description, v.labels, v.container_image, v.signature,
                   circuit.circuit
            FROM workflow_versions v {circuit_join("v.workflow_id")} WHERE v.id = ANY(%s)""",
        (list(ids),),
    )
    return {row["id"]: row for row in tx.fetchall()}


def composite_steps(tx: UnitOfWork, version_ids: Sequence[int]) -> dict[str, frozenset[str]]:
    """For the composite versions among ``version_ids``: workflow id -> the workflow ids its steps (and finally
    steps) run."""
    tx.execute(
        """SELECT v.workflow_id, array_agg(DISTINCT s.step ->> 'workflow_id') AS steps
           FROM workflow_versions v,
                jsonb_array_elements(coalesce(v.composition -> 'steps', '[]')
                                     || coalesce(v.composition -> 'finally', '[]')) AS s(step)
           WHERE v.id = ANY(%s) AND v.composition IS NOT NULL
           GROUP BY v.workflow_id""",
        (list(version_ids),),
    )
    return {row["workflow_id"]: frozenset(row["steps"]) for row in tx.fetchall()}


def confidence_signals(tx: UnitOfWork, version_id: int, query_text: str, plain_words: str) -> Row:
    """What the `confident` decision (chalicelib/domain/confidence.py) reads of the top candidate beyond its
    rank: ``title_coverage`` and ``query_coverage``, each in [0, 1], weighted by the ranking's IDF.

    - title_coverage: the IDF mass of the version's title words (weight A) that the query mentions, over
      the IDF mass of all its title words;
    - query_coverage: the IDF mass of the query's telling words that the version contains, over the IDF
      mass of all of them. Telling: the ``plain_words`` (standalone words, known to the corpus or not)
      and the other known words that are not numbers; instance names and measured values (found only in
      ``query_text``) are not. An unknown word weighs as much as a word found in one document.
    One document, so the cost does not grow with the candidate pool.
    """
    tx.execute(
        f"""SELECT coalesce(sum(w.idf) FILTER (WHERE w.in_title AND q.in_query)
                            / nullif(sum(w.idf) FILTER (WHERE w.in_title), 0), 0) AS title_coverage,
                   coalesce(sum(least(w.idf, k.rare_idf)) FILTER (WHERE w.telling AND w.in_doc)
                            / nullif(sum(least(w.idf, k.rare_idf)) FILTER (WHERE w.telling), 0), 0)
                       AS query_coverage
            FROM (SELECT tsvector_to_array(document) AS lexemes,
                         tsvector_to_array(ts_filter(document, '{{a}}')) AS title
                  FROM search_documents WHERE version_id = %(id)s) AS d
            CROSS JOIN (SELECT n, ln(1 + (n - 1 + 0.5)::float8 / (1 + 0.5)) AS rare_idf
                        FROM (SELECT greatest(coalesce((SELECT documents FROM search_corpus), 0)
                                              + coalesce((SELECT sum(documents) FROM search_corpus_deltas), 0), 1)
                                  AS n) AS s) AS k
            CROSS JOIN (SELECT tsvector_to_array(to_tsvector('{TS_CONFIG}', %(plain)s)) AS lexemes) AS p
            -- The query's words and the title's, each once.
            CROSS JOIN LATERAL (
                SELECT x.lexeme, bool_or(x.in_query) AS in_query
                FROM (SELECT unnest(tsvector_to_array(to_tsvector('{TS_CONFIG}', %(query)s))) AS lexeme,
                             true AS in_query
                      UNION ALL SELECT unnest(d.title), false) AS x
                GROUP BY x.lexeme) AS q
            -- The ranking's IDF (candidates_sql: folded statistics plus pending deltas), in float8: numeric
            -- ln() costs more than the rest.
            CROSS JOIN LATERAL (
                SELECT coalesce((SELECT doc_count FROM search_terms WHERE lexeme = q.lexeme), 0)
                         + coalesce((SELECT sum(doc_count) FROM search_term_deltas WHERE lexeme = q.lexeme), 0)
                         AS doc_count) AS t
            CROSS JOIN LATERAL (
                SELECT q.lexeme = ANY (d.title) AS in_title, q.lexeme = ANY (d.lexemes) AS in_doc,
                       q.in_query AND (q.lexeme = ANY (p.lexemes)
                                       OR t.doc_count > 0 AND q.lexeme !~ '^[0-9]') AS telling,
                       ln(1 + (k.n - t.doc_count + 0.5)::float8 / (t.doc_count + 0.5)) AS idf) AS w""",
        {"id": version_id, "query": query_text, "plain": plain_words},
    )
    return tx.one()
