-- Alert intake and incidents (PostgreSQL). Same tables and rules as migrations/0001 (SQLite),
-- with real types. Documents (alert records, timeline entries) are ``json``, not ``jsonb``:
-- they are only stored and read back whole, and ``jsonb`` rejects the ``\u0000`` escape that a
-- log line or a label may carry, which SQLite stores. ``seq`` orders rows inserted in the same
-- instant (SQLite's rowid).
CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    received_at TIMESTAMPTZ NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    receiver TEXT NOT NULL,
    truncated_alerts INTEGER NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    body TEXT NOT NULL
);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    namespace TEXT NOT NULL,
    signature TEXT NOT NULL,
    state TEXT NOT NULL,
    escalated BOOLEAN NOT NULL DEFAULT FALSE,
    opened_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ,
    first_failure_at TIMESTAMPTZ NOT NULL,
    related_issue TEXT,
    job_kinds JSON NOT NULL DEFAULT '[]',
    alerts_firing INTEGER NOT NULL DEFAULT 0,
    alerts_resolved INTEGER NOT NULL DEFAULT 0
);
-- The catalog's rule, enforced by the database for every replica: one open incident per
-- namespace + signature.
CREATE UNIQUE INDEX incidents_one_open ON incidents (namespace, signature)
    WHERE state <> 'resolved';
CREATE INDEX incidents_by_opened ON incidents (opened_at, seq);
CREATE INDEX incidents_by_state ON incidents (state);

CREATE TABLE alerts (
    delivery_key TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    incident_id TEXT REFERENCES incidents (id),
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    record JSON NOT NULL
);
CREATE INDEX alerts_by_incident ON alerts (incident_id, received_at, seq);
CREATE INDEX alerts_by_fingerprint ON alerts (fingerprint, received_at);

CREATE TABLE timeline (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    entry JSON NOT NULL
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, id);
