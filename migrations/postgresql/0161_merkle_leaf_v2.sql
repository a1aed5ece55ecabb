-- 0161_merkle_leaf_v2 (PostgreSQL): the Merkle tree's leaf of an encoding 2
-- chain row is its encoding 2 record — the login and the server time
-- included — exactly the bytes the chain hashed (docs/AUDIT.md §1, §8).
--
-- The ledger before this migration took the six-field (v1) bytes of every
-- row as its leaf, also for the encoding 2 rows the database has written
-- since migration 0120. Its merkle_nodes do not bind the login and time. The
-- tree is derived data (the chain is the record; every node is recomputable
-- from event_chain and ledger_events), so such a tree is moved aside, not
-- patched: when the stored leaf of the first encoding 2 row is not the hash
-- of its v2 record, merkle_nodes is renamed merkle_nodes_before_0161 (kept,
-- read-only, for inspection), an empty merkle_nodes with the same triggers
-- and grants takes its place, and the next write, checkpoint, proof or
-- `projections follow` re-derives it from the chain (as for a ledger that
-- predates migration 0160). One row in merkle_rederived records it, and
-- which signed tree heads were signed over the old leaves; `ledger init`
-- prints it. A ledger with no such tree (no encoding 2 rows, or a tree built
-- by this version) is left as it is and merkle_rederived stays empty.

CREATE TABLE IF NOT EXISTS public.merkle_rederived (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    first_v2_seq bigint NOT NULL,
    tree_size_before bigint NOT NULL,
    -- signed tree heads recorded up to this checkpoint id with tree_size >=
    -- first_v2_seq sign a root over the old leaves (docs/AUDIT.md §8)
    last_checkpoint_id bigint,
    moved_to text NOT NULL
);

DROP TRIGGER IF EXISTS merkle_rederived_no_change ON public.merkle_rederived;
CREATE TRIGGER merkle_rederived_no_change BEFORE UPDATE OR DELETE ON public.merkle_rederived
    FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();
DROP TRIGGER IF EXISTS merkle_rederived_no_truncate ON public.merkle_rederived;
CREATE TRIGGER merkle_rederived_no_truncate BEFORE TRUNCATE ON public.merkle_rederived
    FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();

DO $$
DECLARE
    r record;
    stored bytea;
    g record;
    size_before bigint;
    last_cp bigint;
BEGIN
    SELECT c.seq, c.notification_id, c.recorded_by, c.recorded_at, e.originator_id,
           e.originator_version, e.topic, e.state
        INTO r
        FROM public.event_chain c
        JOIN public.ledger_events e ON e.notification_id = c.notification_id
        WHERE c.encoding = 2 ORDER BY c.seq LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT m.hash INTO stored FROM public.merkle_nodes m WHERE m.level = 0 AND m.idx = r.seq - 1;
    IF stored IS NULL OR stored = sha256('\x00'::bytea || public.ledger_chain_record_v2(
            r.seq, r.notification_id, r.originator_id::text, r.originator_version,
            r.topic, r.state, r.recorded_by, r.recorded_at)) THEN
        RETURN;  -- the tree does not reach the v2 rows yet, or has their v2 leaves
    END IF;
    SELECT coalesce(max(idx) + 1, 0) INTO size_before FROM public.merkle_nodes WHERE level = 0;
    SELECT max(id) INTO last_cp FROM public.audit_checkpoints;

    ALTER TABLE public.merkle_nodes RENAME TO merkle_nodes_before_0161;
    ALTER INDEX public.merkle_nodes_pkey RENAME TO merkle_nodes_before_0161_pkey;
    ALTER TRIGGER merkle_nodes_no_change ON public.merkle_nodes_before_0161
        RENAME TO merkle_nodes_before_0161_no_change;
    ALTER TRIGGER merkle_nodes_no_truncate ON public.merkle_nodes_before_0161
        RENAME TO merkle_nodes_before_0161_no_truncate;

    CREATE TABLE public.merkle_nodes (
        level smallint NOT NULL CHECK (level >= 0 AND level < 64),
        idx bigint NOT NULL CHECK (idx >= 0),
        hash bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, idx)
    );
    CREATE TRIGGER merkle_nodes_no_change BEFORE UPDATE OR DELETE ON public.merkle_nodes
        FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();
    CREATE TRIGGER merkle_nodes_no_truncate BEFORE TRUNCATE ON public.merkle_nodes
        FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change();
    -- the same grants as the old table (clerks, projectors, auditors), and
    -- the old table becomes read-only for everyone but its owner
    FOR g IN SELECT ro.rolname AS grantee, a.privilege_type
             FROM pg_class t, aclexplode(t.relacl) a JOIN pg_roles ro ON ro.oid = a.grantee
             WHERE t.oid = 'public.merkle_nodes_before_0161'::regclass
               AND a.grantee <> t.relowner
    LOOP
        EXECUTE format('GRANT %s ON public.merkle_nodes TO %I', g.privilege_type, g.grantee);
        IF g.privilege_type <> 'SELECT' THEN
            EXECUTE format('REVOKE %s ON public.merkle_nodes_before_0161 FROM %I',
                           g.privilege_type, g.grantee);
        END IF;
    END LOOP;

    INSERT INTO public.merkle_rederived (first_v2_seq, tree_size_before, last_checkpoint_id, moved_to)
        VALUES (r.seq, size_before, last_cp, 'merkle_nodes_before_0161');
    RAISE WARNING 'merkle_nodes held v1 leaves for encoding 2 chain rows from seq %: moved to '
        'merkle_nodes_before_0161; the tree is re-derived from the chain on the next write '
        '(docs/AUDIT.md §8)', r.seq;
END
$$;
