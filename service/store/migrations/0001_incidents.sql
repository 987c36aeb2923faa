-- Alert intake and incidents. One script for both dialects: ``{token}``s are the dialect's
-- types (``dialect``), and a line starting ``--@sqlite`` or ``--@postgres`` is only that one's.
-- PostgreSQL documents (alert records, timeline entries) are ``json``, not ``jsonb``: they are
-- only stored and read back whole, and ``jsonb`` rejects the ``\u0000`` escape that a log line
-- or a label may carry, which SQLite stores. ``seq`` orders PostgreSQL rows inserted in the same
-- instant, as SQLite's rowid does.
CREATE TABLE notifications (
    id {id},
    digest TEXT NOT NULL UNIQUE,
    received_at {time} NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    receiver TEXT NOT NULL,
    truncated_alerts INTEGER NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    body TEXT NOT NULL
);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
--@postgres    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    namespace TEXT NOT NULL,
    signature TEXT NOT NULL,
    state TEXT NOT NULL,
    escalated {bool} NOT NULL DEFAULT {false},
    opened_at {time} NOT NULL,
    updated_at {time} NOT NULL,
    resolved_at {time},
    first_failure_at {time} NOT NULL,
    related_issue TEXT,
    job_kinds {json} NOT NULL DEFAULT '[]',
    alerts_firing INTEGER NOT NULL DEFAULT 0,
    alerts_resolved INTEGER NOT NULL DEFAULT 0
);
-- The catalog's rule, enforced by the database for every replica: one open incident per
-- namespace + signature.
CREATE UNIQUE INDEX incidents_one_open ON incidents (namespace, signature)
    WHERE state <> 'resolved';
--@sqlite CREATE INDEX incidents_by_opened ON incidents (opened_at);
--@postgres CREATE INDEX incidents_by_opened ON incidents (opened_at, seq);
--@postgres CREATE INDEX incidents_by_state ON incidents (state);

CREATE TABLE alerts (
    delivery_key TEXT PRIMARY KEY,
--@postgres    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    incident_id TEXT REFERENCES incidents (id),
    notification_id {bigint} NOT NULL REFERENCES notifications (id),
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at {time} NOT NULL,
    record {json} NOT NULL
);
--@sqlite CREATE INDEX alerts_by_incident ON alerts (incident_id);
--@sqlite CREATE INDEX alerts_by_fingerprint ON alerts (fingerprint);
--@postgres CREATE INDEX alerts_by_incident ON alerts (incident_id, received_at, seq);
--@postgres CREATE INDEX alerts_by_fingerprint ON alerts (fingerprint, received_at);

CREATE TABLE timeline (
    id {id},
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at {time} NOT NULL,
    kind TEXT NOT NULL,
    entry {json} NOT NULL
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, id);
