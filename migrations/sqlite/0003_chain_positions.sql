-- 0003_chain_positions (SQLite): sequence numbers and notification ids are
-- positive. The recorders never write anything else; a row at seq 0 or below
-- could only be forged (and `ledger audit verify` reports one if a trigger is
-- bypassed). AFTER INSERT, because in a BEFORE trigger an automatic rowid is
-- not yet known.

CREATE TRIGGER IF NOT EXISTS event_chain_positive AFTER INSERT ON event_chain
WHEN NEW.seq < 1 OR NEW.notification_id < 1
BEGIN SELECT RAISE(ABORT, 'event_chain: seq and notification_id start at 1'); END;

CREATE TRIGGER IF NOT EXISTS ledger_events_positive AFTER INSERT ON ledger_events
WHEN NEW.rowid < 1
BEGIN SELECT RAISE(ABORT, 'ledger_events: notification ids start at 1'); END;
