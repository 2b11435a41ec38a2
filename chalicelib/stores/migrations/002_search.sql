-- Search: a full-text document, a vector and corpus statistics per workflow version (BM25F ranking
-- over PostgreSQL's own stemmer, cosine similarity over pgvector), and search_candidates, the
-- searchable set itself: the latest active version of every enabled workflow, kept in step by
-- triggers from the latest_versions view (so "latest" keeps its one definition and is never stale).
-- Vectors are `vector` without a fixed dimension: the dimension is configuration
-- (EMBEDDING_DIMENSIONS), so chalicelib/stores/search_store.py creates the HNSW index as an
-- expression index on `embedding::vector(<dim>)` at start-up, and the re-embed command rebuilds it.

-- English stemming WITHOUT the English stop-word list: alert names are full of words that list drops
-- ("KubeletDown", "TargetDown", "Up", "Over"); BM25's IDF already discounts genuinely common words.
CREATE TEXT SEARCH DICTIONARY catalog_english_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION catalog_english (COPY = english);
ALTER TEXT SEARCH CONFIGURATION catalog_english
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH catalog_english_stem;

CREATE TABLE search_documents (
    version_id    bigint PRIMARY KEY REFERENCES workflow_versions (id) ON DELETE CASCADE,
    -- Weight A = title, B = description, C = label values (CamelCase already split by the indexer).
    document      tsvector NOT NULL,
    -- Token counts per field, for BM25F length normalisation.
    title_length  integer NOT NULL,
    body_length   integer NOT NULL,
    embedding     vector              -- NULL until the configured provider has embedded it
);

-- Document frequency of every lexeme over all indexed versions (IDF). Counting every version, not only
-- the latest, is a deliberate approximation: IDF only needs the shape of the corpus, and it avoids
-- rewriting statistics on every lifecycle change.
CREATE TABLE search_terms (
    lexeme    text PRIMARY KEY,
    doc_count bigint NOT NULL CHECK (doc_count >= 0)
);

-- At most one row (upserted by the indexer): corpus size and total field lengths, for average lengths.
CREATE TABLE search_corpus (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    documents    bigint NOT NULL DEFAULT 0,
    title_tokens bigint NOT NULL DEFAULT 0,
    body_tokens  bigint NOT NULL DEFAULT 0
);

-- Which provider and dimension produced the vectors (one row once set).
CREATE TABLE search_embedding_meta (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    provider    text NOT NULL,
    dimensions  integer NOT NULL CHECK (dimensions > 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The searchable set: one row per enabled workflow, its latest active version, with what the hard
-- filters and the nearest-neighbour scan need in one table (label_tokens as in 001, GIN-indexed).
CREATE TABLE search_candidates (
    version_id   bigint PRIMARY KEY REFERENCES workflow_versions (id) ON DELETE CASCADE,
    workflow_id  text NOT NULL UNIQUE,
    labels       jsonb NOT NULL,
    label_tokens text[] NOT NULL,
    embedding    vector
);
CREATE INDEX search_candidates_label_tokens ON search_candidates USING gin (label_tokens);
-- Keep vectors inline and uncompressed (a 512-d vector is just over the default 2 kB TOAST
-- threshold): an exact scan over a filtered set would otherwise decompress every vector.
ALTER TABLE search_candidates SET (toast_tuple_target = 8160);

-- Recomputes the searchable row of each given workflow. Locking the workflows' rows first (in one
-- order) serialises concurrent writers of one workflow; each later statement of this volatile
-- function takes a fresh snapshot, so it sees what the previous lock holder committed. NO KEY
-- UPDATE, because inserting a version already holds KEY SHARE on its workflow (foreign key), which
-- a FOR UPDATE would wait on: two concurrent inserts would deadlock.
CREATE FUNCTION search_refresh_workflows(ids text[]) RETURNS void
LANGUAGE sql AS $$
    SELECT 1 FROM workflows WHERE workflow_id = ANY (ids) ORDER BY workflow_id FOR NO KEY UPDATE;
    DELETE FROM search_candidates WHERE workflow_id = ANY (ids);
    INSERT INTO search_candidates (version_id, workflow_id, labels, label_tokens, embedding)
    SELECT l.id, l.workflow_id, l.labels, l.label_tokens, d.embedding
    FROM latest_versions l
    JOIN workflows w ON w.workflow_id = l.workflow_id AND w.enabled
    JOIN search_documents d ON d.version_id = l.id
    WHERE l.workflow_id = ANY (ids);
$$;

-- Statement-level triggers with transition tables: one refresh per statement, also for bulk loads.
CREATE FUNCTION search_workflows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_refresh_workflows(ARRAY(SELECT DISTINCT workflow_id FROM changed));
    RETURN NULL;
END $$;

CREATE FUNCTION search_documents_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_refresh_workflows(ARRAY(
        SELECT DISTINCT v.workflow_id FROM changed c JOIN workflow_versions v ON v.id = c.version_id));
    RETURN NULL;
END $$;

CREATE TRIGGER search_versions_inserted AFTER INSERT ON workflow_versions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_workflows_changed();
CREATE TRIGGER search_versions_updated AFTER UPDATE ON workflow_versions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_workflows_changed();
CREATE TRIGGER search_workflows_updated AFTER UPDATE ON workflows
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_workflows_changed();
CREATE TRIGGER search_documents_inserted AFTER INSERT ON search_documents
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_documents_changed();
CREATE TRIGGER search_documents_updated AFTER UPDATE ON search_documents
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION search_documents_changed();
