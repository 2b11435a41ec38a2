-- Guardrails (README, "Guardrails"; chalicelib/domain/guards.py): each workflow's guard settings, the mark of an
-- operator's clear of a failure streak, the history records guards write, and the indexes that keep the one guard
-- query (chalicelib/stores/guard_store.py guard_facts) a few short index ranges at any history size.

-- A workflow's settings; NULL: the configured default (DEFAULT_<NAME>). The bounds are domain/limits.py's
-- GUARD_SETTING_BOUNDS.
ALTER TABLE workflows
    ADD COLUMN cooldown_seconds         integer CHECK (cooldown_seconds BETWEEN 0 AND 604800),
    ADD COLUMN max_consecutive_failures integer CHECK (max_consecutive_failures BETWEEN 1 AND 100),
    ADD COLUMN max_executions_per_hour  integer CHECK (max_executions_per_hour BETWEEN 1 AND 10000),
    ADD COLUMN max_concurrent           integer CHECK (max_concurrent BETWEEN 1 AND 1000);

-- An operator's clear of a failure streak marks the newest failed execution of it: a streak counts back from the
-- newest finished execution of the workflow on the target to the first that succeeded or carries this mark.
ALTER TABLE executions
    ADD COLUMN failure_streak_cleared_at timestamptz,
    ADD CONSTRAINT executions_clear_marks_a_failure CHECK (failure_streak_cleared_at IS NULL OR status = 'failed');

-- The workflow's history records what guards change: each setting, the circuit (closed -> open by the catalog,
-- open -> closed by an operator; the latest such record is the circuit's state) and an operator's clear of a
-- failure streak. 012's values stay.
ALTER TABLE status_changes
    DROP CONSTRAINT status_changes_field_check,
    ADD CONSTRAINT status_changes_field_check CHECK (field IN (
        'status', 'enabled', 'approval_required', 'owner',
        'cooldown_seconds', 'max_consecutive_failures', 'max_executions_per_hour', 'max_concurrent',
        'circuit', 'failure_streak')),
    ADD CONSTRAINT status_changes_circuit_states CHECK (field <> 'circuit' OR to_value IN ('closed', 'open'));
CREATE INDEX status_changes_circuit ON status_changes (workflow_id, id DESC) WHERE field = 'circuit';

-- The guard query's look-ups. Finished executions of a workflow on a target, newest first (cooldown, failure
-- streak): keyed on target_name, the part of the target key (execution_store.TARGET_KEY_SQL) that tells targets
-- apart best and that every form of the key has; the rest of the key filters the few rows it finds.
CREATE INDEX executions_finished_on_target ON executions (workflow_id, target_name, finished_at DESC, id DESC)
    WHERE status IN ('succeeded', 'failed');
-- Finished executions of a workflow, newest first (the circuit breaker's last 10).
CREATE INDEX executions_finished ON executions (workflow_id, finished_at DESC, id DESC)
    WHERE status IN ('succeeded', 'failed');
-- Executions of a workflow requested in the last hour, and those active now (the rate limits).
CREATE INDEX executions_requested ON executions (workflow_id, created_at DESC);
CREATE INDEX executions_active ON executions (workflow_id)
    WHERE status IN ('awaiting_approval', 'approved', 'pending', 'running');
