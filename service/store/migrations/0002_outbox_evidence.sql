-- The notification outbox and evidence bundles.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    message TEXT NOT NULL,
    UNIQUE (incident_id, sink, key)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);

CREATE TABLE evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    collected_at TEXT NOT NULL,
    bundle TEXT NOT NULL
);
CREATE INDEX evidence_by_incident ON evidence (incident_id, id);
