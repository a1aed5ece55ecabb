-- 0001_events (SQLite): the event store and the audit trail beside it.
--
-- ledger_events is exactly the table eventsourcing's SQLiteApplicationRecorder
-- would create (its create_table), under our table name; the notification id
-- is the implicit rowid. Everything else is ours: see docs/DESIGN.md "Storage"
-- and docs/AUDIT.md.

CREATE TABLE IF NOT EXISTS ledger_events (
    originator_id TEXT,
    originator_version INTEGER,
    topic TEXT,
    state BLOB,
    PRIMARY KEY (originator_id, originator_version)
);

-- One row per event, written in the same transaction as the event:
-- seq is dense from 1; chain_hash = SHA-256(previous hash || event encoding).
CREATE TABLE IF NOT EXISTS event_chain (
    seq INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL UNIQUE,
    chain_hash TEXT NOT NULL
);

-- --request-id idempotency, written in the same transaction as the events.
CREATE TABLE IF NOT EXISTS request_log (
    request_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    result TEXT NOT NULL,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Insert-only settings; the newest row of a key wins.
CREATE TABLE IF NOT EXISTS ledger_settings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    set_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS ledger_settings_key_idx ON ledger_settings (key, id);

-- Signed checkpoints (ledger audit checkpoint). taken_at is the exact
-- ISO 8601 UTC text that was signed.
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    chain_hash TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    public_key TEXT NOT NULL,
    ledger_id TEXT
);
