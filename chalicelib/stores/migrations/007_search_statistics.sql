-- Corpus statistics without hot rows. Indexing a version used to update the single search_corpus row
-- and the search_terms rows of its lexemes, so concurrent writers queued on those rows. Now a writer
-- only appends its contribution here; chalicelib/stores/search_store.py folds the deltas into
-- search_terms / search_corpus now and then (one folder at a time, never blocking writers), and a
-- search adds the deltas not folded yet, so the statistics it reads stay exact.
CREATE TABLE search_term_deltas (
    id        bigserial PRIMARY KEY,
    lexeme    text NOT NULL,
    doc_count bigint NOT NULL
);
CREATE INDEX search_term_deltas_lexeme ON search_term_deltas (lexeme);

CREATE TABLE search_corpus_deltas (
    id           bigserial PRIMARY KEY,
    documents    bigint NOT NULL,
    title_tokens bigint NOT NULL,
    body_tokens  bigint NOT NULL
);
