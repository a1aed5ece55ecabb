-- 0140_aggregate_snapshots (SQLite): snapshots of aggregates with long
-- histories, a cache for commands (ledger/store/snapshots.py). Outside the
-- hash chain: no event_chain row is written for a snapshot, `ledger audit
-- verify` never reads this table, and deleting its rows is always safe.
-- chain_hash is that of the aggregate's event at originator_version: a
-- snapshot that does not match its recorded event is ignored.

CREATE TABLE IF NOT EXISTS aggregate_snapshots (
    originator_id TEXT NOT NULL,
    originator_version INTEGER NOT NULL,
    chain_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    taken_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (originator_id, originator_version)
);
