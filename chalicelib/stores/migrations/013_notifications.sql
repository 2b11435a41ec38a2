-- Notifications (chalicelib/domain/notifications.py): an outbox written in the transaction that causes
-- each event, and one delivery per channel that the maintenance loop works through, at least once.

CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,              -- receivers' idempotency key
    event_type  text NOT NULL CHECK (event_type IN (
        'execution.awaiting_approval', 'execution.approved', 'execution.rejected', 'execution.expired',
        'execution.failed', 'guard.circuit_opened')),
    occurred_at timestamptz NOT NULL DEFAULT now(), -- the recording transaction's time
    data        jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object')
);
-- The maintenance loop deletes events past their keeping time, oldest first.
CREATE INDEX notifications_occurred_at ON notifications (occurred_at);

-- One row per event and channel. A deliverer claims a due row (FOR UPDATE SKIP LOCKED) and pushes
-- next_attempt_at past its send deadline before it sends (a lease: if it dies, the row is due again);
-- attempts counts claims and fences a deliverer whose lease ran out from recording over the next one.
CREATE TABLE notification_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        uuid NOT NULL REFERENCES notifications (event_id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('webhook', 'sns')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'abandoned')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    last_attempt_at timestamptz,
    last_error      text,                          -- why the last attempt failed (never a secret)
    finished_at     timestamptz,                   -- delivered or given up
    UNIQUE (event_id, channel),
    CHECK ((status = 'pending') = (finished_at IS NULL))
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (channel, next_attempt_at)
    WHERE status = 'pending';
