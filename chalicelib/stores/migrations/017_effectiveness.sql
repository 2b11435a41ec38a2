-- Effectiveness (README, "Effectiveness"; chalicelib/domain/effectiveness.py): each succeeded execution's window and,
-- once it has passed, its verdict with the evidence; the track record of each (workflow, signal_type) that search
-- shows; the indexes of the judgement's sweep and of the guard ineffective-chain.

ALTER TABLE executions
    -- When the window after its success ends: finished_at + EFFECTIVENESS_WINDOW_SECONDS, fixed when the success is
    -- recorded (a later change of the setting does not move it).
    ADD COLUMN effectiveness_window_ends_at timestamptz,
    -- The verdict (EFFECTIVENESS_VERDICTS in chalicelib/domain/effectiveness.py), given once the window has passed,
    -- when and why (the alerts and episodes that counted); final once given.
    ADD COLUMN effectiveness            text CONSTRAINT executions_effectiveness_check
        CHECK (effectiveness IN ('effective', 'ineffective', 'unknown')),
    ADD COLUMN effectiveness_judged_at  timestamptz,
    ADD COLUMN effectiveness_evidence   jsonb,
    -- Only a success is judged (a failed execution fixed nothing), and a verdict comes whole, after its window.
    ADD CONSTRAINT executions_effectiveness_of_a_success
        CHECK (effectiveness_window_ends_at IS NULL OR status = 'succeeded'),
    ADD CONSTRAINT executions_effectiveness_whole CHECK (
        (effectiveness IS NULL) = (effectiveness_judged_at IS NULL)
        AND (effectiveness IS NULL) = (effectiveness_evidence IS NULL)
        AND (effectiveness IS NULL OR effectiveness_window_ends_at IS NOT NULL));

-- Successes recorded before this migration get the default window (600 s); they are judged like any other.
UPDATE executions SET effectiveness_window_ends_at = finished_at + interval '600 seconds'
 WHERE status = 'succeeded' AND finished_at IS NOT NULL;

-- The successes waiting for their verdict, by the end of their window (the maintenance round's sweep).
CREATE INDEX executions_unjudged ON executions (effectiveness_window_ends_at, id)
    WHERE status = 'succeeded' AND effectiveness IS NULL;
-- Ineffective executions of a workflow on a target, newest first (the guard ineffective-chain): keyed like
-- executions_finished_on_target (migration 015).
CREATE INDEX executions_ineffective_on_target ON executions (workflow_id, target_name, finished_at DESC, id DESC)
    WHERE effectiveness = 'ineffective';

-- The track record of each workflow per signal_type (lower-cased, as labels compare): what search results carry
-- for the incident's signal or, summed, for the workflow. Counters kept by the triggers below in the statement that
-- changes an execution, so a search reads a few rows whatever the history (the stats count the executions
-- themselves, and agree).
CREATE TABLE track_records (
    workflow_id text NOT NULL REFERENCES workflows (workflow_id),
    signal_type text NOT NULL,               -- lower(incident ->> 'signal_type')
    executions  bigint NOT NULL DEFAULT 0 CHECK (executions >= 0),  -- recorded, in any status
    succeeded   bigint NOT NULL DEFAULT 0 CHECK (succeeded >= 0),
    failed      bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    effective   bigint NOT NULL DEFAULT 0 CHECK (effective >= 0),
    ineffective bigint NOT NULL DEFAULT 0 CHECK (ineffective >= 0),
    unknown     bigint NOT NULL DEFAULT 0 CHECK (unknown >= 0),
    PRIMARY KEY (workflow_id, signal_type)
);

-- Adds what the statement's rows changed, per (workflow, signal): each new row counts, each old row uncounts. The
-- counters are upserted in key order, so transactions that change several lock them in one order (no deadlock);
-- a statement that changes no count (a heartbeat, a claim) writes nothing. One function for both triggers: the
-- transition tables each one has (executions are never deleted) are named in its statement, read by dynamic SQL.
CREATE FUNCTION track_records_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
        ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1 AS sign, * FROM old_rows' END;
BEGIN
    EXECUTE format($sql$
        INSERT INTO track_records AS t (workflow_id, signal_type, executions, succeeded, failed, effective,
                                        ineffective, unknown)
        SELECT * FROM (
            SELECT workflow_id, lower(incident ->> 'signal_type') AS signal_type, sum(sign) AS executions,
                   coalesce(sum(sign) FILTER (WHERE status = 'succeeded'), 0) AS succeeded,
                   coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) AS failed,
                   coalesce(sum(sign) FILTER (WHERE effectiveness = 'effective'), 0) AS effective,
                   coalesce(sum(sign) FILTER (WHERE effectiveness = 'ineffective'), 0) AS ineffective,
                   coalesce(sum(sign) FILTER (WHERE effectiveness = 'unknown'), 0) AS unknown
              FROM (%s) r GROUP BY 1, 2) delta
         WHERE (executions, succeeded, failed, effective, ineffective, unknown) <> (0, 0, 0, 0, 0, 0)
         ORDER BY workflow_id, signal_type
        ON CONFLICT (workflow_id, signal_type) DO UPDATE SET
            executions = t.executions + EXCLUDED.executions, succeeded = t.succeeded + EXCLUDED.succeeded,
            failed = t.failed + EXCLUDED.failed, effective = t.effective + EXCLUDED.effective,
            ineffective = t.ineffective + EXCLUDED.ineffective, unknown = t.unknown + EXCLUDED.unknown$sql$, changed);
    RETURN NULL;
END $$;

CREATE TRIGGER track_records_insert AFTER INSERT ON executions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION track_records_count();
CREATE TRIGGER track_records_update AFTER UPDATE ON executions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION track_records_count();

-- The executions recorded so far.
INSERT INTO track_records (workflow_id, signal_type, executions, succeeded, failed, effective, ineffective, unknown)
SELECT workflow_id, lower(incident ->> 'signal_type'), count(*), count(*) FILTER (WHERE status = 'succeeded'),
       count(*) FILTER (WHERE status = 'failed'), 0, 0, 0
  FROM executions GROUP BY 1, 2;
