-- 0120_chain_encoding (SQLite): the chain rows carry their encoding version,
-- like PostgreSQL's (0120_chain_in_database). SQLite is a single-user file
-- with no login boundary: the recorder computes encoding 1 rows itself and
-- recorded_by / recorded_at stay empty (docs/AUDIT.md §13).
ALTER TABLE event_chain ADD COLUMN encoding INTEGER NOT NULL DEFAULT 1;
ALTER TABLE event_chain ADD COLUMN recorded_by TEXT;
ALTER TABLE event_chain ADD COLUMN recorded_at TEXT;
