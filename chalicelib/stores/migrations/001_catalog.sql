-- Catalog core: workflows, their immutable versions, the history of every status change, API keys.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE workflows (
    workflow_id text PRIMARY KEY,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workflow_versions (
    id              bigserial PRIMARY KEY,
    workflow_id     text NOT NULL REFERENCES workflows (workflow_id),
    version         text NOT NULL,
    -- SemVer precedence as sortable columns (see chalicelib/domain/versions.py::sort_key_parts).
    major           integer NOT NULL,
    minor           integer NOT NULL,
    patch           integer NOT NULL,
    prerelease_key  text COLLATE "C" NOT NULL,
    build           text COLLATE "C" NOT NULL DEFAULT '',
    title           text NOT NULL,
    description     text NOT NULL,
    labels          jsonb NOT NULL,
    container_image text NOT NULL,
    parameters      jsonb NOT NULL,
    content_hash    char(64) NOT NULL,
    status          text NOT NULL CHECK (status IN ('draft', 'active', 'deprecated')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL,
    UNIQUE (workflow_id, version)
);

CREATE INDEX workflow_versions_precedence
    ON workflow_versions (workflow_id, major DESC, minor DESC, patch DESC, prerelease_key DESC, build DESC)
    WHERE status = 'active';

-- Label matching needs the same case and wildcard rules everywhere (chalicelib/domain/labels.py):
-- every workflow label value, trimmed and lower-cased, as a "key=value" token, GIN-indexed.
CREATE FUNCTION label_tokens(labels jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT lower(btrim(l.key)) || '=' || lower(btrim(v.value))), '{}')
    FROM jsonb_each(labels) AS l(key, value),
         LATERAL jsonb_array_elements_text(
             CASE jsonb_typeof(l.value) WHEN 'array' THEN l.value ELSE jsonb_build_array(l.value) END
         ) AS v(value)
$$;

ALTER TABLE workflow_versions
    ADD COLUMN label_tokens text[] GENERATED ALWAYS AS (label_tokens(labels)) STORED;
CREATE INDEX workflow_versions_label_tokens ON workflow_versions USING gin (label_tokens);

-- Latest = highest SemVer precedence among active versions, computed on every read.
CREATE VIEW latest_versions AS
SELECT DISTINCT ON (v.workflow_id) v.*
FROM workflow_versions v
WHERE v.status = 'active'
ORDER BY v.workflow_id, v.major DESC, v.minor DESC, v.patch DESC, v.prerelease_key DESC, v.build DESC, v.id DESC;

-- Every change of a version's status or a workflow's enabled flag: who, when, why.
CREATE TABLE status_changes (
    id          bigserial PRIMARY KEY,
    workflow_id text NOT NULL REFERENCES workflows (workflow_id),
    version     text,               -- NULL for workflow-level changes (enabled)
    field       text NOT NULL CHECK (field IN ('status', 'enabled')),
    from_value  text,
    to_value    text NOT NULL,
    reason      text NOT NULL,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_changes_workflow ON status_changes (workflow_id, id);

CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,            -- public id, for listing and revoking
    token_sha256  char(64) NOT NULL UNIQUE,    -- keys are random 256-bit tokens: a plain hash suffices
    name          text NOT NULL,
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
