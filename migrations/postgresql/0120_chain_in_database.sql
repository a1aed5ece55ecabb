-- 0120_chain_in_database (PostgreSQL): the chain row is computed by the
-- database, never sent by the client (docs/AUDIT.md §1 "chain encoding v2",
-- §13 "Trust boundaries").
--
-- An AFTER INSERT statement trigger on ledger_events, running with the
-- owner's rights (SECURITY DEFINER), takes the ordering lock (EXCLUSIVE on
-- ledger_events: the lock the recorder already holds, so a no-op for it),
-- reads the chain head and appends one event_chain row per new event, in
-- notification-id order, hashing the stored bytes together with the
-- database login that inserted them (session_user) and the server's clock.
-- Rows written before this migration keep encoding 1 and verify as before.

ALTER TABLE public.event_chain ADD COLUMN IF NOT EXISTS encoding smallint NOT NULL DEFAULT 1;
ALTER TABLE public.event_chain ADD COLUMN IF NOT EXISTS recorded_by text;
ALTER TABLE public.event_chain ADD COLUMN IF NOT EXISTS recorded_at text;

-- The request log names the login that recorded each request id: a login
-- can only insert rows that name itself (INSERT is granted on the other
-- columns only, see ledger/audit/roles.py), and a request id is only ever
-- replayed to the login that recorded it.
ALTER TABLE public.request_log ADD COLUMN IF NOT EXISTS recorded_by text NOT NULL DEFAULT session_user;

-- Chain encoding v2 of one event: eight fields, each an 8-byte big-endian
-- length then the bytes: seq, notification id, version as ASCII decimal,
-- the originator id as lowercase hyphenated text, topic (UTF-8), the stored
-- state bytes, the login (UTF-8), the server time as
-- YYYY-MM-DDTHH:MM:SS.ffffffZ (ASCII). Byte for byte what
-- ledger.store.chain.chain_record_bytes returns for encoding 2.
CREATE OR REPLACE FUNCTION public.ledger_chain_record_v2(
    seq bigint, notification_id bigint, originator_id text, originator_version bigint,
    topic text, state bytea, recorded_by text, recorded_at text
) RETURNS bytea
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    SELECT int8send(octet_length(convert_to(seq::text, 'UTF8'))::bigint)
        || convert_to(seq::text, 'UTF8')
        || int8send(octet_length(convert_to(notification_id::text, 'UTF8'))::bigint)
        || convert_to(notification_id::text, 'UTF8')
        || int8send(octet_length(convert_to(originator_id, 'UTF8'))::bigint)
        || convert_to(originator_id, 'UTF8')
        || int8send(octet_length(convert_to(originator_version::text, 'UTF8'))::bigint)
        || convert_to(originator_version::text, 'UTF8')
        || int8send(octet_length(convert_to(coalesce(topic, ''), 'UTF8'))::bigint)
        || convert_to(coalesce(topic, ''), 'UTF8')
        || int8send(octet_length(coalesce(state, '\x'::bytea))::bigint)
        || coalesce(state, '\x'::bytea)
        || int8send(octet_length(convert_to(recorded_by, 'UTF8'))::bigint)
        || convert_to(recorded_by, 'UTF8')
        || int8send(octet_length(convert_to(recorded_at, 'UTF8'))::bigint)
        || convert_to(recorded_at, 'UTF8')
$$;

CREATE OR REPLACE FUNCTION public.ledger_chain_events() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog
AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    head_nid bigint;
    login text := session_user;
    at text := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    r record;
BEGIN
    -- the ordering lock: whoever inserts, one writer extends the head at a time
    LOCK TABLE public.ledger_events IN EXCLUSIVE MODE;
    SELECT c.seq, c.chain_hash, c.notification_id INTO head_seq, head_hash, head_nid
        FROM public.event_chain c ORDER BY c.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
        head_nid := 0;
    END IF;
    FOR r IN SELECT n.notification_id, n.originator_id, n.originator_version, n.topic, n.state
             FROM new_events n ORDER BY n.notification_id
    LOOP
        IF r.notification_id <= head_nid THEN
            RAISE EXCEPTION 'ledger_events: notification id % is not after the chain head (%)',
                r.notification_id, head_nid USING ERRCODE = 'check_violation';
        END IF;
        head_seq := head_seq + 1;
        head_hash := encode(sha256(decode(head_hash, 'hex') || public.ledger_chain_record_v2(
            head_seq, r.notification_id, r.originator_id::text, r.originator_version,
            r.topic, r.state, login, at)), 'hex');
        INSERT INTO public.event_chain
            (seq, notification_id, chain_hash, encoding, recorded_by, recorded_at)
            VALUES (head_seq, r.notification_id, head_hash, 2, login, at);
        head_nid := r.notification_id;
    END LOOP;
    NOTIFY ledger_chain;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION public.ledger_chain_events() FROM PUBLIC;

DROP TRIGGER IF EXISTS ledger_events_chain ON public.ledger_events;
CREATE TRIGGER ledger_events_chain AFTER INSERT ON public.ledger_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_chain_events();

-- The catch-up lock (projections/runner.py): LOCK TABLE … IN EXCLUSIVE MODE
-- on this empty table. Only a login with UPDATE on it (the owner, the
-- ledger_projectors group) can take that mode; a SELECT-only login (auditor,
-- clerk) can take ACCESS SHARE only, which does not conflict with it.
CREATE TABLE IF NOT EXISTS public.ledger_catchup_lock (id integer PRIMARY KEY);
