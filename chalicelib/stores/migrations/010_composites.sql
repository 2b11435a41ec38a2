-- Composite workflows (docs/composite-workflows.md): a version runs either one container image or
-- steps that name other catalog workflows by SemVer range. The steps are content, like the image:
-- {"steps": [...], "finally": [...]} as chalicelib/domain/composite.py writes it.
ALTER TABLE workflow_versions ALTER COLUMN container_image DROP NOT NULL;
ALTER TABLE workflow_versions ADD COLUMN composition jsonb;
ALTER TABLE workflow_versions ADD CONSTRAINT workflow_versions_image_or_steps
    CHECK ((container_image IS NULL) <> (composition IS NULL));

-- latest_versions froze "v.*" when it was last defined: define it again so it has the new column
-- (same query; CREATE OR REPLACE may only append columns, which is what this does).
CREATE OR REPLACE VIEW latest_versions AS
SELECT DISTINCT ON (v.workflow_id) v.*
FROM workflow_versions v
WHERE v.status = 'active'
ORDER BY v.workflow_id, v.major DESC, v.minor DESC, v.patch DESC, v.prerelease_key DESC, v.build DESC, v.id DESC;

-- A RemediationWorkflow with steps names no image, and its registration pulls nothing.
ALTER TABLE registrations ALTER COLUMN image DROP NOT NULL;

-- An execution of a composite runs no single image: what each of its steps resolved to when the
-- execution was created (the audit trail of exactly what ran), one row per step.
ALTER TABLE executions ALTER COLUMN container_image DROP NOT NULL;
CREATE TABLE execution_steps (
    execution_id    uuid NOT NULL REFERENCES executions (execution_id),
    position        integer NOT NULL,       -- steps first, then finally steps, as written
    step            text NOT NULL,
    is_finally      boolean NOT NULL,
    workflow_id     text NOT NULL,
    version         text NOT NULL,
    container_image text NOT NULL,          -- digest-pinned
    PRIMARY KEY (execution_id, position),
    FOREIGN KEY (workflow_id, version) REFERENCES workflow_versions (workflow_id, version)
);
-- Per-version statistics of a step workflow count the composite executions that ran it.
CREATE INDEX execution_steps_workflow ON execution_steps (workflow_id, version);
