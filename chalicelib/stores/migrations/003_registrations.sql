-- Registrations: one row per delivered RemediationWorkflow event, the job's state and its outcome.
-- A delivery is identified by (resource uid, generation, event): the same delivery again finds
-- its row instead of queueing a second job.
CREATE TABLE registrations (
    registration_id uuid PRIMARY KEY,
    resource_uid    text NOT NULL,
    generation      bigint NOT NULL,
    event           text NOT NULL CHECK (event IN ('ADDED', 'MODIFIED', 'DELETED')),
    resource        jsonb NOT NULL,          -- the validated fields the job works from
    workflow_id     text NOT NULL,
    version         text NOT NULL,
    image           text NOT NULL,           -- as the resource names it (tag or digest)
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    image_digest    text,                    -- what the reference resolved to
    container_image text,                    -- the digest-pinned reference stored in the catalog
    error_type      text,                    -- operator-facing reason, e.g. SchemaMissing
    error_title     text,
    error_detail    text,
    error_errors    jsonb,                   -- [{path, message}] for schema problems
    attempts        integer NOT NULL DEFAULT 0,
    requested_by    text NOT NULL,
    correlation_id  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    UNIQUE (resource_uid, generation, event),
    CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL))
);

CREATE INDEX registrations_workflow ON registrations (workflow_id, created_at DESC);
