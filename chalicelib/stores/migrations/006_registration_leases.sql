-- Registrations always finish: a running job holds a lease that its worker renews; a job whose lease
-- expired (its worker died) and a pending job never picked up are queued again by the sweeper
-- (chalicelib/services/registration.py). queued_at is when a job message was last sent.
ALTER TABLE registrations
    ADD COLUMN lease_owner      text,
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN queued_at        timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT registrations_lease_when_running CHECK (status = 'running' OR lease_expires_at IS NULL);

CREATE INDEX registrations_unfinished ON registrations (status, lease_expires_at, queued_at)
    WHERE status IN ('pending', 'running');
