-- The notification outbox and evidence bundles (PostgreSQL; see migrations/0002 for SQLite).
-- A claim leases a delivery (``next_attempt_at`` moves to the end of the lease, as in SQLite):
-- no other replica claims it while it may be in flight; after a crash it is due again.
-- ``claimed_by``: the store that claimed it, which gives its claims back when it closes.
CREATE TABLE deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_by TEXT,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ,
    message JSON NOT NULL,
    UNIQUE (incident_id, sink, key)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at, id);

CREATE TABLE evidence (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    collected_at TIMESTAMPTZ NOT NULL,
    bundle JSON NOT NULL
);
CREATE INDEX evidence_by_incident ON evidence (incident_id, id);
