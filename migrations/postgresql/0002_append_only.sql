-- 0002_append_only (PostgreSQL): the history tables refuse UPDATE, DELETE and
-- TRUNCATE, whoever asks (statement-level triggers, so even a statement that
-- would touch no row is refused). A superuser can still disable a trigger;
-- the hash chain (ledger audit verify) is what detects that.

CREATE OR REPLACE FUNCTION public.ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'history is corrected by recording a new event, never by editing';
END;
$$;

-- Writers serialise on an EXCLUSIVE lock of ledger_events (the library's
-- scheme). PostgreSQL only lets a role take that lock mode if it holds
-- UPDATE, DELETE or TRUNCATE on the table; the clerk role has none of those,
-- so it takes the lock through this owner-run function instead (a lock lasts
-- until the end of the caller's transaction). See ledger/chain.py.
CREATE OR REPLACE FUNCTION public.ledger_events_lock() RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog
AS $$
BEGIN
    LOCK TABLE public.ledger_events IN EXCLUSIVE MODE;
END;
$$;
REVOKE ALL ON FUNCTION public.ledger_events_lock() FROM PUBLIC;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ledger_events', 'event_chain', 'request_log',
                             'ledger_settings', 'audit_checkpoints']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', t || '_no_change', t);
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON public.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change()',
            t || '_no_change', t);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', t || '_no_truncate', t);
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE TRUNCATE ON public.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change()',
            t || '_no_truncate', t);
    END LOOP;
END
$$;
