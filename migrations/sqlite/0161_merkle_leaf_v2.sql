-- 0161_merkle_leaf_v2 (SQLite): the table PostgreSQL's 0161 records a
-- re-derived Merkle tree in (docs/AUDIT.md §8). SQLite chain rows are all
-- encoding 1, so their leaves were always the bytes the chain hashed: no
-- tree is moved aside here and the table stays empty.
CREATE TABLE IF NOT EXISTS merkle_rederived (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    first_v2_seq INTEGER NOT NULL,
    tree_size_before INTEGER NOT NULL,
    last_checkpoint_id INTEGER,
    moved_to TEXT NOT NULL
);

CREATE TRIGGER IF NOT EXISTS merkle_rederived_no_update BEFORE UPDATE ON merkle_rederived
BEGIN SELECT RAISE(ABORT, 'merkle_rederived is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS merkle_rederived_no_delete BEFORE DELETE ON merkle_rederived
BEGIN SELECT RAISE(ABORT, 'merkle_rederived is append-only (DELETE refused)'); END;
