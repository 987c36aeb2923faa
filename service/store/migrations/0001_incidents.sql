-- Alert intake and incidents.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT NOT NULL UNIQUE,
    received_at TEXT NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    receiver TEXT NOT NULL,
    truncated_alerts INTEGER NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    body TEXT NOT NULL
);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    signature TEXT NOT NULL,
    state TEXT NOT NULL,
    escalated INTEGER NOT NULL DEFAULT 0,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT,
    first_failure_at TEXT NOT NULL,
    related_issue TEXT,
    job_kinds TEXT NOT NULL DEFAULT '[]',
    alerts_firing INTEGER NOT NULL DEFAULT 0,
    alerts_resolved INTEGER NOT NULL DEFAULT 0
);
-- The catalog's rule, enforced by the database: one open incident per namespace + signature.
CREATE UNIQUE INDEX incidents_one_open ON incidents (namespace, signature) WHERE state <> 'resolved';
CREATE INDEX incidents_by_opened ON incidents (opened_at);

CREATE TABLE alerts (
    delivery_key TEXT PRIMARY KEY,
    incident_id TEXT REFERENCES incidents (id),
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX alerts_by_incident ON alerts (incident_id);
CREATE INDEX alerts_by_fingerprint ON alerts (fingerprint);

CREATE TABLE timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, id);
