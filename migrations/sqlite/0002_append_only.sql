-- 0002_append_only (SQLite): the history tables refuse UPDATE and DELETE.
-- (SQLite has no TRUNCATE; DELETE without WHERE fires these triggers too.)

CREATE TRIGGER IF NOT EXISTS ledger_events_no_update BEFORE UPDATE ON ledger_events
BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS ledger_events_no_delete BEFORE DELETE ON ledger_events
BEGIN SELECT RAISE(ABORT, 'ledger_events is append-only (DELETE refused)'); END;

CREATE TRIGGER IF NOT EXISTS event_chain_no_update BEFORE UPDATE ON event_chain
BEGIN SELECT RAISE(ABORT, 'event_chain is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS event_chain_no_delete BEFORE DELETE ON event_chain
BEGIN SELECT RAISE(ABORT, 'event_chain is append-only (DELETE refused)'); END;

CREATE TRIGGER IF NOT EXISTS request_log_no_update BEFORE UPDATE ON request_log
BEGIN SELECT RAISE(ABORT, 'request_log is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS request_log_no_delete BEFORE DELETE ON request_log
BEGIN SELECT RAISE(ABORT, 'request_log is append-only (DELETE refused)'); END;

CREATE TRIGGER IF NOT EXISTS ledger_settings_no_update BEFORE UPDATE ON ledger_settings
BEGIN SELECT RAISE(ABORT, 'ledger_settings is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS ledger_settings_no_delete BEFORE DELETE ON ledger_settings
BEGIN SELECT RAISE(ABORT, 'ledger_settings is append-only (DELETE refused)'); END;

CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only (DELETE refused)'); END;
