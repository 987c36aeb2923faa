-- The notification outbox and evidence bundles.
-- A claim leases a delivery (``next_attempt_at`` moves to the end of the lease): no other
-- worker or replica claims it while it may be in flight; after a crash it is due again.
-- ``claimed_by``: the store that claimed it, which gives its claims back when it closes
-- (SQLite's column came with 0004).
CREATE TABLE deliveries (
    id {id},
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {time} NOT NULL,
--@postgres    claimed_by TEXT,
    last_error TEXT,
    created_at {time} NOT NULL,
    delivered_at {time},
    message {json} NOT NULL,
    UNIQUE (incident_id, sink, key)
);
--@sqlite CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
--@postgres CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at, id);

CREATE TABLE evidence (
    id {id},
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    collected_at {time} NOT NULL,
    bundle {json} NOT NULL
);
CREATE INDEX evidence_by_incident ON evidence (incident_id, id);
