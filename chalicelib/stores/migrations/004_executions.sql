-- Execution audit trail: one row per execution (incident context, redacted parameters, lifecycle
-- timestamps) and one row per status change.
CREATE TABLE executions (
    id                  bigserial PRIMARY KEY,          -- total order for pagination (newest first)
    execution_id        uuid NOT NULL UNIQUE,
    workflow_id         text NOT NULL,
    version             text NOT NULL,
    container_image     text NOT NULL,
    -- writeOnly parameters are already replaced by "***" here: the secret is never stored.
    parameters          jsonb NOT NULL,
    redacted_parameters text[] NOT NULL DEFAULT '{}',
    incident            jsonb NOT NULL,
    incident_id         text NOT NULL,
    pipeline_run_name   text NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    message             text,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workflow_id, version) REFERENCES workflow_versions (workflow_id, version),
    -- The lifecycle's timestamps agree with the status (chalicelib/domain/executions.py).
    CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL)),
    CHECK (status <> 'running' OR started_at IS NOT NULL),
    CHECK (status <> 'succeeded' OR started_at IS NOT NULL)
);
-- Filters of GET /api/v1/executions and the per-version statistics.
CREATE INDEX executions_workflow ON executions (workflow_id, version, id DESC);
CREATE INDEX executions_status ON executions (status, id DESC);

CREATE TABLE execution_events (
    id           bigserial PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES executions (execution_id),
    from_status  text,                 -- NULL for the creation event
    to_status    text NOT NULL,
    message      text,
    changed_by   text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX execution_events_execution ON execution_events (execution_id, id);
