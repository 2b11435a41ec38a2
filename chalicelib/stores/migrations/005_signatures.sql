-- Image signature verification (SIGNATURE_POLICY_FILE): the outcome of the check, NULL when the
-- policy did not ask for one (mode off, or no policy).
-- registrations.signature: {"verified", "key_id", "mode", "reason", "detail"}, what the job found.
-- workflow_versions.signature: {"verified", "key_id"}, shown on version and search responses.
ALTER TABLE registrations ADD COLUMN signature jsonb;
ALTER TABLE workflow_versions ADD COLUMN signature jsonb;

-- latest_versions (001) froze "v.*" when it was created: define it again so it has the new column
-- (same query; CREATE OR REPLACE may only append columns, which is what this does).
CREATE OR REPLACE VIEW latest_versions AS
SELECT DISTINCT ON (v.workflow_id) v.*
FROM workflow_versions v
WHERE v.status = 'active'
ORDER BY v.workflow_id, v.major DESC, v.minor DESC, v.patch DESC, v.prerelease_key DESC, v.build DESC, v.id DESC;
