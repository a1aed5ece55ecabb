-- 0001_events (PostgreSQL): the event store and the audit trail beside it.
--
-- The first four statements are exactly what eventsourcing's
-- PostgresApplicationRecorder.create_table() makes for the table
-- "ledger_events" in schema public with UUID originator ids: the table, the
-- unique notification_id index, the composite type stored_event_uuid and the
-- es_insert_events_uuid function (with the library's default lock_timeout 0).
-- Everything after that is ours: see docs/DESIGN.md "Storage", docs/AUDIT.md.

CREATE TABLE IF NOT EXISTS public.ledger_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);

CREATE UNIQUE INDEX IF NOT EXISTS ledger_events_notification_id_idx
    ON public.ledger_events (notification_id ASC);

DO $$
BEGIN
    CREATE TYPE public.stored_event_uuid AS (
        originator_id uuid,
        originator_version bigint,
        topic text,
        state bytea
    );
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.es_insert_events_uuid(events public.stored_event_uuid[])
RETURNS SETOF bigint
LANGUAGE plpgsql
AS $BODY$
BEGIN
    SET LOCAL lock_timeout = '0s';
    NOTIFY ledger_events;
    RETURN QUERY
    INSERT INTO public.ledger_events AS t (originator_id, originator_version, topic, state)
    SELECT originator_id, originator_version, topic, state
    FROM unnest(events)
    RETURNING notification_id;
END;
$BODY$;

-- One row per event, written in the same transaction as the event:
-- seq is dense from 1; chain_hash = SHA-256(previous hash || event encoding).
CREATE TABLE IF NOT EXISTS public.event_chain (
    seq bigint PRIMARY KEY,
    notification_id bigint NOT NULL UNIQUE,
    chain_hash text NOT NULL
);

-- --request-id idempotency, written in the same transaction as the events.
CREATE TABLE IF NOT EXISTS public.request_log (
    request_id text PRIMARY KEY,
    fingerprint text NOT NULL,
    result text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Insert-only settings; the newest row of a key wins.
CREATE TABLE IF NOT EXISTS public.ledger_settings (
    id bigserial PRIMARY KEY,
    key text NOT NULL,
    value text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ledger_settings_key_idx ON public.ledger_settings (key, id);

-- Signed checkpoints (ledger audit checkpoint). taken_at is the exact
-- ISO 8601 UTC text that was signed.
CREATE TABLE IF NOT EXISTS public.audit_checkpoints (
    id bigserial PRIMARY KEY,
    seq bigint NOT NULL,
    chain_hash text NOT NULL,
    taken_at text NOT NULL,
    key_id text NOT NULL,
    signature text NOT NULL,
    public_key text NOT NULL,
    ledger_id text
);
