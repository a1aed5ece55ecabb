-- 0160_merkle (PostgreSQL): the Merkle tree over the chain (issue 16, docs/AUDIT.md §8).
--
-- merkle_nodes(level, idx) is the root of the perfect subtree over the leaves
-- [idx * 2^level, (idx + 1) * 2^level); level 0 holds the leaf hashes. A node is
-- written once, when its last leaf is appended, and never changes: the table is
-- append-only like the chain (same triggers; ledger init --roles gives the clerk
-- SELECT, INSERT only). Nodes are appended by ledger.audit.merkle_store, never
-- recomputed from scratch.

CREATE TABLE IF NOT EXISTS public.merkle_nodes (
    level smallint NOT NULL CHECK (level >= 0 AND level < 64),
    idx bigint NOT NULL CHECK (idx >= 0),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

DROP TRIGGER IF EXISTS merkle_nodes_no_change ON public.merkle_nodes;
CREATE TRIGGER merkle_nodes_no_change BEFORE UPDATE OR DELETE ON public.merkle_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();
DROP TRIGGER IF EXISTS merkle_nodes_no_truncate ON public.merkle_nodes;
CREATE TRIGGER merkle_nodes_no_truncate BEFORE TRUNCATE ON public.merkle_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_clerk') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON public.merkle_nodes FROM ledger_clerk;
        GRANT SELECT, INSERT ON public.merkle_nodes TO ledger_clerk;
    END IF;
END
$$;

-- Signed tree heads (checkpoint format version 2): the tree beside the
-- checkpoint row, in a table of its own (as on SQLite).
CREATE TABLE IF NOT EXISTS public.audit_tree_heads (
    checkpoint_id bigint PRIMARY KEY REFERENCES public.audit_checkpoints (id),
    version integer NOT NULL,
    tree_size bigint NOT NULL CHECK (tree_size >= 0),
    root_hash text NOT NULL CHECK (length(root_hash) = 64)
);

DROP TRIGGER IF EXISTS audit_tree_heads_no_change ON public.audit_tree_heads;
CREATE TRIGGER audit_tree_heads_no_change BEFORE UPDATE OR DELETE ON public.audit_tree_heads
    FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();
DROP TRIGGER IF EXISTS audit_tree_heads_no_truncate ON public.audit_tree_heads;
CREATE TRIGGER audit_tree_heads_no_truncate BEFORE TRUNCATE ON public.audit_tree_heads
    FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_clerk') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON public.audit_tree_heads FROM ledger_clerk;
        GRANT SELECT, INSERT ON public.audit_tree_heads TO ledger_clerk;
    END IF;
END
$$;
