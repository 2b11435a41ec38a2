-- Recommendations: what agents ask operators for when no workflow fits an incident
-- (chalicelib/domain/recommendations.py). One row per recommendation, one per incident that posted
-- it (the first included), one per status change (who, when, why).
CREATE TABLE recommendations (
    id                  bigserial PRIMARY KEY,          -- tiebreaker of the list order
    recommendation_id   uuid NOT NULL UNIQUE,
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'dismissed')),
    signal_type         text NOT NULL,
    component           text,
    -- Canonical [signal_type, component]: repeats are looked for among the open rows of a group, and
    -- posts to one group take a transaction lock on it (so concurrent repeats never open two).
    group_key           text NOT NULL,
    summary             text NOT NULL,
    -- The summary's stems (to_tsvector('english', ...) of the CamelCase-split text), for the repeat rule.
    summary_stems       text[] NOT NULL,
    rationale           text,
    proposed_steps      jsonb NOT NULL DEFAULT '[]',
    confidence          double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),  -- highest posted
    related_workflow_id text REFERENCES workflows (workflow_id),
    occurrences         integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),             -- distinct incidents
    workflow_id         text REFERENCES workflows (workflow_id),                       -- set on accept
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'accepted') = (workflow_id IS NOT NULL))
);
-- GET /api/v1/recommendations?status=: most occurrences first, then oldest.
CREATE INDEX recommendations_by_occurrences ON recommendations (status, occurrences DESC, id);
CREATE INDEX recommendations_open_group ON recommendations (group_key, id) WHERE status = 'open';

CREATE TABLE recommendation_incidents (
    id                bigserial PRIMARY KEY,
    recommendation_id uuid NOT NULL REFERENCES recommendations (recommendation_id),
    incident_id       text NOT NULL,
    incident          jsonb NOT NULL,
    summary           text NOT NULL,             -- as this incident's post worded it
    confidence        double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    recorded_by       text NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (recommendation_id, incident_id)      -- a retried post of one incident counts once
);
CREATE INDEX recommendation_incidents_newest ON recommendation_incidents (recommendation_id, id DESC);

CREATE TABLE recommendation_events (
    id                bigserial PRIMARY KEY,
    recommendation_id uuid NOT NULL REFERENCES recommendations (recommendation_id),
    from_status       text,                      -- NULL for the creation event
    to_status         text NOT NULL,
    reason            text,
    workflow_id       text,
    changed_by        text NOT NULL,
    changed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recommendation_events_recommendation ON recommendation_events (recommendation_id, id);
