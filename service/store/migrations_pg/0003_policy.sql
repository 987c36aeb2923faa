-- What the policy decided and saw (mitigation, recovery watch, escalations), and MTTR.
ALTER TABLE incidents ADD COLUMN policy JSON NOT NULL DEFAULT '{}';
ALTER TABLE incidents ADD COLUMN mttr_s DOUBLE PRECISION;
ALTER TABLE incidents ADD COLUMN next_check_at TIMESTAMPTZ;
