-- Ownership, tenants and clusters (README, "Ownership, clusters and key limits"; chalicelib/domain/ownership.py).

-- Every workflow has an owner: the origin (cluster, namespace) of the RemediationWorkflow resource that first
-- registered it, or the REST API. Only its owner may add versions, enable or disable it by registration, and
-- reconcile it; only an admin key without limits moves it (audited in status_changes, field 'owner').
ALTER TABLE workflows
    ADD COLUMN owner_kind      text NOT NULL DEFAULT 'api' CHECK (owner_kind IN ('api', 'resource')),
    ADD COLUMN owner_cluster   text,
    ADD COLUMN owner_namespace text,
    ADD CONSTRAINT workflows_owner_complete CHECK (
        (owner_kind = 'resource') = (owner_cluster IS NOT NULL) AND (owner_cluster IS NULL) = (owner_namespace IS NULL)),
    -- The cluster of the source resource (011 recorded uid, namespace, name, generation).
    ADD COLUMN source_cluster  text;

-- Today's workflows: those registered from a resource are owned by its origin, in the only cluster there was
-- ("default", the cluster of keys without a binding); the others were created over REST.
UPDATE workflows SET source_cluster = 'default' WHERE source_uid IS NOT NULL;
UPDATE workflows SET owner_kind = 'resource', owner_cluster = 'default', owner_namespace = source_namespace
 WHERE source_uid IS NOT NULL;
UPDATE workflow_versions SET source = source || '{"cluster": "default"}' WHERE source IS NOT NULL;
ALTER TABLE workflows ADD CONSTRAINT workflows_source_cluster CHECK ((source_uid IS NULL) = (source_cluster IS NULL));

-- Reconciliation looks workflows up by the owner's (cluster, namespace).
DROP INDEX workflows_enabled_sources;
CREATE INDEX workflows_enabled_owned ON workflows (owner_cluster, owner_namespace)
    WHERE owner_kind = 'resource' AND enabled;

ALTER TABLE status_changes
    DROP CONSTRAINT status_changes_field_check,
    ADD CONSTRAINT status_changes_field_check CHECK (field IN ('status', 'enabled', 'approval_required', 'owner'));

-- Keys may be bound to one cluster (NULL: not bound; such a key acts as cluster "default").
ALTER TABLE api_keys ADD COLUMN cluster text;

-- A registration carries the cluster of the key that delivered it. A delivery is one per (cluster, namespace,
-- uid, generation, event): a key of another cluster or namespace naming the same uid records its own delivery
-- and can never stand in for (or suppress) the real one.
ALTER TABLE registrations ADD COLUMN cluster text NOT NULL DEFAULT 'default';
ALTER TABLE registrations DROP CONSTRAINT registrations_resource_uid_generation_event_key;
CREATE UNIQUE INDEX registrations_one_per_delivery
    ON registrations (cluster, (resource ->> 'namespace'), resource_uid, generation, event);

-- A composite's execution may wait for approval because workflows its steps run require it: which ones
-- ({"workflow": bool, "steps": [{"step", "workflow_id"}]}), as decided when it was requested.
ALTER TABLE executions ADD COLUMN approval_required_by jsonb;
