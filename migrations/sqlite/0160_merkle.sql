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

-- Signed tree heads (checkpoint format version 2): the tree beside the
-- checkpoint row (a table of its own rather than new columns, so this file
-- also applies where audit_checkpoints does not exist).
CREATE TABLE IF NOT EXISTS audit_tree_heads (
    checkpoint_id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
    root_hash TEXT NOT NULL CHECK (length(root_hash) = 64)
);

CREATE TRIGGER IF NOT EXISTS audit_tree_heads_no_update BEFORE UPDATE ON audit_tree_heads
BEGIN SELECT RAISE(ABORT, 'audit_tree_heads is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS audit_tree_heads_no_delete BEFORE DELETE ON audit_tree_heads
BEGIN SELECT RAISE(ABORT, 'audit_tree_heads is append-only (DELETE refused)'); END;
