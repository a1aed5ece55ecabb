-- 0003_chain_positions (PostgreSQL): sequence numbers and notification ids are
-- positive. The recorders never write anything else; a row at seq 0 or below
-- could only be forged. Triggers (like the append-only ones), so whoever
-- disables triggers as superuser bypasses them too — and `ledger audit verify`
-- then reports the row.

CREATE OR REPLACE FUNCTION public.event_chain_refuse_position() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.seq < 1 OR NEW.notification_id < 1 THEN
        RAISE EXCEPTION 'event_chain: seq and notification_id start at 1'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION public.ledger_events_refuse_position() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.notification_id < 1 THEN
        RAISE EXCEPTION 'ledger_events: notification ids start at 1'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS event_chain_positive ON public.event_chain;
CREATE TRIGGER event_chain_positive BEFORE INSERT ON public.event_chain
    FOR EACH ROW EXECUTE FUNCTION public.event_chain_refuse_position();

DROP TRIGGER IF EXISTS ledger_events_positive ON public.ledger_events;
CREATE TRIGGER ledger_events_positive BEFORE INSERT ON public.ledger_events
    FOR EACH ROW EXECUTE FUNCTION public.ledger_events_refuse_position();
