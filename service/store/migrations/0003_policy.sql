-- What the policy decided and saw (mitigation, recovery watch, escalations), and MTTR.
ALTER TABLE incidents ADD COLUMN policy {json} NOT NULL DEFAULT '{}';
ALTER TABLE incidents ADD COLUMN mttr_s {real};
ALTER TABLE incidents ADD COLUMN next_check_at {time};
