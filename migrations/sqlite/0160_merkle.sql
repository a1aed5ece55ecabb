-- 0160_merkle (SQLite): the Merkle tree over the chain (issue 16, docs/AUDIT.md §8).
--
-- merkle_nodes(level, idx) is the root of the perfect subtree over the leaves
-- [idx * 2^level, (idx + 1) * 2^level); level 0 holds the leaf hashes. A node is
-- written once, when its last leaf is appended, and never changes: the table is
-- append-only like the chain. Nodes are appended by ledger.audit.merkle_store
-- (in the recording transaction on SQLite), never recomputed from scratch.

CREATE TABLE IF NOT EXISTS merkle_nodes (
    level INTEGER NOT NULL CHECK (level >= 0 AND level < 64),
    idx INTEGER NOT NULL CHECK (idx >= 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS merkle_nodes_no_update BEFORE UPDATE ON merkle_nodes
BEGIN SELECT RAISE(ABORT, 'merkle_nodes is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS merkle_nodes_no_delete BEFORE DELETE ON merkle_nodes
BEGIN SELECT RAISE(ABORT, 'merkle_nodes is append-only (DELETE refused)'); END;

-- Signed tree heads (checkpoint format version 2) also record the tree.
ALTER TABLE audit_checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_checkpoints ADD COLUMN tree_size INTEGER;
ALTER TABLE audit_checkpoints ADD COLUMN root_hash TEXT;
