-- Alerts as Alertmanager reports them (POST /api/v1/alerts/alertmanager; chalicelib/domain/alerts.py).
-- One row per alert (its fingerprint: Alertmanager's hash of its labels, so the labels never change), and one
-- per episode of it: from startsAt (it fired) to ends_at (it resolved). An alert that fires again after it
-- resolved is a new episode, so the episodes are the history the effectiveness judgement reads.
CREATE TABLE alerts (
    fingerprint   text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
    alertname     text,                          -- labels.alertname (NULL without one)
    namespace     text,                          -- labels.namespace (NULL: a cluster-wide alert)
    labels        jsonb NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now()
);
-- The alerts that count for an execution without alert_fingerprint: alertname = its signal_type (compared
-- case-insensitively, as every label is) and namespace = its target's namespace.
CREATE INDEX alerts_by_name_and_namespace ON alerts (lower(alertname), namespace);

CREATE TABLE alert_episodes (
    fingerprint text NOT NULL REFERENCES alerts (fingerprint),
    starts_at   timestamptz NOT NULL,            -- startsAt: when it fired
    -- firing -> resolved (ends_at: Alertmanager's endsAt); superseded: a later episode was reported before this
    -- one's resolution, so it ended at the latest then (ends_at: that episode's startsAt) until its resolution
    -- arrives. Nothing moves back (a late notification changes nothing).
    status      text NOT NULL CHECK (status IN ('firing', 'superseded', 'resolved')),
    ends_at     timestamptz,
    recorded_at timestamptz NOT NULL DEFAULT now(),  -- when the catalog first heard of the episode
    updated_at  timestamptz NOT NULL DEFAULT now(),  -- when its status last changed
    PRIMARY KEY (fingerprint, starts_at),        -- also the judgement's lookup by alert_fingerprint
    CHECK ((status = 'firing') = (ends_at IS NULL)),
    CHECK (ends_at >= starts_at)
);
