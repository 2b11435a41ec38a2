-- Level-triggered reconciliation between the cluster and the catalog (POST /api/v1/registrations/reconcile).
-- A workflow registered from a RemediationWorkflow resource remembers that resource (its source): the one the
-- latest successful registration came from, and when. Workflows created over REST have no source and are never
-- touched by reconciliation. Each version also keeps the resource it was first registered from.
ALTER TABLE workflows
    ADD COLUMN source_uid           text,
    ADD COLUMN source_namespace     text,
    ADD COLUMN source_name          text,
    ADD COLUMN source_generation    bigint,
    ADD COLUMN source_registered_at timestamptz,
    ADD CONSTRAINT workflows_source_complete CHECK ((source_uid IS NULL) = (source_registered_at IS NULL));
CREATE INDEX workflows_enabled_sources ON workflows (source_namespace) WHERE source_uid IS NOT NULL AND enabled;

ALTER TABLE workflow_versions ADD COLUMN source jsonb;  -- {uid, namespace, name, generation}; NULL over REST
-- latest_versions froze "v.*" when it was created: define it again so it has the new column (see 005).
CREATE OR REPLACE VIEW latest_versions AS
SELECT DISTINCT ON (v.workflow_id) v.*
FROM workflow_versions v
WHERE v.status = 'active'
ORDER BY v.workflow_id, v.major DESC, v.minor DESC, v.patch DESC, v.prerelease_key DESC, v.build DESC, v.id DESC;

-- Keys may be limited to namespaces (NULL: every namespace): such a key registers and reconciles only those.
ALTER TABLE api_keys ADD COLUMN namespaces text[];

-- Workflows registered before this migration: their source is the resource of their latest successful
-- registration (DELETED ones say nothing about where a workflow comes from).
UPDATE workflows w
   SET source_uid = r.resource_uid, source_namespace = r.resource ->> 'namespace', source_name = r.resource ->> 'name',
       source_generation = r.generation, source_registered_at = r.finished_at
  FROM (SELECT DISTINCT ON (workflow_id) workflow_id, resource_uid, resource, generation, finished_at
          FROM registrations
         WHERE status = 'succeeded' AND event <> 'DELETED'
         ORDER BY workflow_id, finished_at DESC) AS r
 WHERE w.workflow_id = r.workflow_id;
