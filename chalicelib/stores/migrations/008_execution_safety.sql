-- Execution safety (chalicelib/domain/executions.py): approvals, one active execution per target, and
-- the sealed writeOnly values an execution waiting for approval holds until it starts.

-- A workflow may require a person to approve each execution; changing it is audited like enabled.
ALTER TABLE workflows ADD COLUMN approval_required boolean NOT NULL DEFAULT false;
ALTER TABLE status_changes
    DROP CONSTRAINT status_changes_field_check,
    ADD CONSTRAINT status_changes_field_check CHECK (field IN ('status', 'enabled', 'approval_required'));

-- Executions recorded before this migration have no target (NULL), so they never hold one.
ALTER TABLE executions
    ADD COLUMN target_kind         text,
    ADD COLUMN target_namespace    text,               -- NULL: a cluster-scoped resource
    ADD COLUMN target_name         text,
    ADD COLUMN approval_required   boolean NOT NULL DEFAULT false,
    ADD COLUMN approval_expires_at timestamptz,        -- while waiting: when it expires
    ADD COLUMN approval_decided_by text,               -- who approved or rejected it, and why
    ADD COLUMN approval_decided_at timestamptz,
    ADD COLUMN approval_reason     text,
    DROP CONSTRAINT executions_status_check,
    ADD CONSTRAINT executions_status_check CHECK (status IN (
        'awaiting_approval', 'approved', 'pending', 'running', 'succeeded', 'failed', 'rejected', 'expired')),
    -- 004's "finished_at once succeeded or failed", now for every terminal state.
    DROP CONSTRAINT executions_check,
    ADD CONSTRAINT executions_finished_when_terminal
        CHECK ((status IN ('succeeded', 'failed', 'rejected', 'expired')) = (finished_at IS NOT NULL)),
    ADD CONSTRAINT executions_target_whole CHECK ((target_kind IS NULL) = (target_name IS NULL)),
    ADD CONSTRAINT executions_waiting_has_deadline
        CHECK (status NOT IN ('awaiting_approval', 'approved') OR approval_expires_at IS NOT NULL),
    ADD CONSTRAINT executions_waiting_only_when_required
        CHECK (status NOT IN ('awaiting_approval', 'approved') OR approval_required);

-- One active remediation per target, enforced here so that concurrent requests cannot both win: the
-- loser's INSERT ... ON CONFLICT waits for the winner's transaction, then finds its row.
-- Kinds compare case-insensitively (Deployment = deployment); a missing namespace is its own value.
CREATE UNIQUE INDEX executions_one_active_per_target
    ON executions (lower(target_kind), coalesce(target_namespace, ''), target_name)
    WHERE status IN ('awaiting_approval', 'approved', 'pending', 'running');

-- The expiry sweep (on reads and on a schedule in AWS) finds the waiting executions past their deadline.
CREATE INDEX executions_waiting_deadline ON executions (approval_expires_at)
    WHERE status IN ('awaiting_approval', 'approved');

-- writeOnly values held for an approval, sealed (AES-GCM under a key from configuration, bound to the
-- execution id); the row is deleted when the PipelineRun is released or the execution is rejected or
-- expires, in the same transaction as that change.
CREATE TABLE execution_secrets (
    execution_id uuid PRIMARY KEY REFERENCES executions (execution_id),
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
