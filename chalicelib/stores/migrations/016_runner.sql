-- The in-cluster runner (README, "The in-cluster runner"; chalicelib/domain/executions.py): the cluster of a
-- target, the PipelineRun each execution's runner creates, the leases of claimed executions, and what runners
-- report (reason, the PipelineRun that ran it).

ALTER TABLE executions
    -- Executions recorded before runners acted in cluster "default", the cluster of keys without a binding.
    ADD COLUMN target_cluster   text NOT NULL DEFAULT 'default'
        CONSTRAINT executions_target_cluster_check CHECK (target_cluster ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    -- The tekton.dev/v1 PipelineRun to create (no namespace: the runner's RUN_NAMESPACE). writeOnly values are
    -- never in it (its step reads them from the claim's Secret), so it holds no secret. NULL while the execution
    -- awaits approval, and for executions recorded before this migration (never claimed: their PipelineRun was
    -- handed to their caller).
    ADD COLUMN pipeline_run     jsonb,
    -- The lease: the runner_id holding it and until when. claimed_by is cleared when a lapse is counted, the
    -- lapsed lease_expires_at kept (a running execution is claimable again only once its lease has lapsed).
    ADD COLUMN claimed_by       text,
    ADD COLUMN claimed_at       timestamptz,
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN lease_lapses     integer NOT NULL DEFAULT 0 CONSTRAINT executions_lease_lapses_check CHECK (lease_lapses >= 0),
    -- Why it ended so: the PipelineRun's reason as reported (e.g. PipelineRunTimeout), or one of the catalog's
    -- own reasons (EXECUTION_REASONS in chalicelib/domain/executions.py). The catalog's are lowercase words joined
    -- by '-', a form reports may not take.
    ADD COLUMN reason           text CONSTRAINT executions_reason_check CHECK (
        reason IS NULL OR reason IN ('runner-lost') OR reason !~ '^[a-z0-9]+(-[a-z0-9]+)+$'),
    -- {namespace, name, uid} of the PipelineRun, as its runner reported it.
    ADD COLUMN pipeline_run_ref jsonb,
    ADD CONSTRAINT executions_lease_whole CHECK (claimed_by IS NULL OR lease_expires_at IS NOT NULL),
    -- A run reported finished (succeeded) between two looks of its runner may have no start time.
    DROP CONSTRAINT executions_check2;

-- One active remediation per target, now per cluster: the same Deployment name in two clusters is two targets.
DROP INDEX executions_one_active_per_target;
CREATE UNIQUE INDEX executions_one_active_per_target
    ON executions (target_cluster, lower(target_kind), coalesce(target_namespace, ''), target_name)
    WHERE status IN ('awaiting_approval', 'approved', 'pending', 'running');

-- Claims look at one cluster's runnable executions, oldest first; the lapse sweep at leases past their end.
CREATE INDEX executions_claimable ON executions (target_cluster, id) WHERE status IN ('pending', 'running');
CREATE INDEX executions_leases ON executions (lease_expires_at) WHERE claimed_by IS NOT NULL;

COMMENT ON TABLE execution_secrets IS
    'writeOnly values of an execution, sealed (AES-GCM under a key from configuration, bound to the execution id): '
    'held until its runner reports it running (they reach the cluster only in the claim''s Secret), and deleted then, '
    'or when it ends, is rejected or expires, in the same transaction as that change.';
