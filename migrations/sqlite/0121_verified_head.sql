-- 0121_verified_head: how far the read models' catch-up has verified the
-- chain (docs/AUDIT.md §13). One row (id 1): the seq and chain hash of the
-- newest event whose hash was recomputed from its stored bytes, back to the
-- genesis or the previous verified head; and, when a catch-up or rebuild
-- found the chain broken, the one-line reason (queries then refuse, exit 4,
-- until a rebuild verifies the whole chain again). Written by the owner or
-- ledger_projectors only.
CREATE TABLE IF NOT EXISTS ledger_verified_head (
    id integer PRIMARY KEY,
    seq bigint NOT NULL,
    chain_hash text NOT NULL,
    broken text
);
