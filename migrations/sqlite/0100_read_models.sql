-- 0100_read_models (SQLite): the read models of projections/ (issue 3).
-- Derived data: `ledger projections rebuild` empties these tables and replays
-- every event; they are NOT append-only (the event tables are). Dates are
-- ISO text (YYYY-MM-DD), recorded_at is ISO 8601 UTC text with microseconds,
-- so both compare as text on both backends.

-- Tracking positions: the notification id each read model has applied up to,
-- written in the same transaction as the model's rows (docs/DESIGN.md "Read models").
CREATE TABLE IF NOT EXISTS rm_tracking (
    projection TEXT PRIMARY KEY,
    notification_id INTEGER NOT NULL
);

-- Which aggregate (platform, unit, voucher) and code an originator id is:
-- events after the first carry only the id.
CREATE TABLE IF NOT EXISTS rm_aggregate (
    originator_id TEXT PRIMARY KEY,
    aggregate TEXT NOT NULL,
    code TEXT NOT NULL
);

-- platforms: the current row (platform list), one snapshot per state-changing
-- event (platform show --as-of / --known-at) and the status history.
CREATE TABLE IF NOT EXISTS rm_platform (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    effective_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    event TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    policy TEXT NOT NULL,
    status TEXT NOT NULL,
    status_since TEXT NOT NULL,
    host_unit TEXT NOT NULL,
    co_builders TEXT NOT NULL,
    proposed_on TEXT NOT NULL,
    approved_on TEXT,
    construction_ends TEXT,
    term_ends TEXT,
    rectification_due TEXT,
    delist_reason TEXT,
    funding_suspended INTEGER NOT NULL,
    consecutive_poor INTEGER NOT NULL,
    due_for_termination INTEGER NOT NULL,
    agreement_on TEXT,
    filing_due TEXT,
    filing_late INTEGER NOT NULL,
    last_version INTEGER NOT NULL,
    PRIMARY KEY (code)
);
CREATE INDEX IF NOT EXISTS rm_platform_status_idx ON rm_platform (status, code);
CREATE INDEX IF NOT EXISTS rm_platform_kind_idx ON rm_platform (kind, code);
CREATE INDEX IF NOT EXISTS rm_platform_level_idx ON rm_platform (level, code);
CREATE INDEX IF NOT EXISTS rm_platform_host_idx ON rm_platform (host_unit);

CREATE TABLE IF NOT EXISTS rm_platform_snapshot (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    effective_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    event TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    policy TEXT NOT NULL,
    status TEXT NOT NULL,
    status_since TEXT NOT NULL,
    host_unit TEXT NOT NULL,
    co_builders TEXT NOT NULL,
    proposed_on TEXT NOT NULL,
    approved_on TEXT,
    construction_ends TEXT,
    term_ends TEXT,
    rectification_due TEXT,
    delist_reason TEXT,
    funding_suspended INTEGER NOT NULL,
    consecutive_poor INTEGER NOT NULL,
    due_for_termination INTEGER NOT NULL,
    agreement_on TEXT,
    filing_due TEXT,
    filing_late INTEGER NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE INDEX IF NOT EXISTS rm_platform_snapshot_asof_idx
    ON rm_platform_snapshot (code, effective_on, version);

CREATE TABLE IF NOT EXISTS rm_platform_status (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    effective_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE INDEX IF NOT EXISTS rm_platform_status_on_idx
    ON rm_platform_status (code, effective_on, version);

-- units: the unit, its names (registered, renamed, aliases), violations,
-- debarments (with lifting), blacklist entries (with removal), consortia led.
CREATE TABLE IF NOT EXISTS rm_unit (
    code TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    unit_type TEXT NOT NULL,
    high_tech INTEGER NOT NULL,
    aliases TEXT NOT NULL,
    registered_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS rm_unit_name (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    since TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (code, version, source, name)
);
CREATE INDEX IF NOT EXISTS rm_unit_name_name_idx ON rm_unit_name (name);

CREATE TABLE IF NOT EXISTS rm_violation (
    id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    found_on TEXT NOT NULL,
    platform TEXT,
    doc_no TEXT,
    reason TEXT,
    policy TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_violation_unit_idx ON rm_violation (unit, occurred_on);

CREATE TABLE IF NOT EXISTS rm_debarment (
    id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    version INTEGER NOT NULL,
    years INTEGER NOT NULL,
    start_on TEXT NOT NULL,
    end_on TEXT NOT NULL,
    scopes TEXT NOT NULL,
    basis TEXT,
    doc_no TEXT,
    reason TEXT,
    violation TEXT,
    recorded_at TEXT NOT NULL,
    lifted_on TEXT,
    lift_doc_no TEXT,
    lift_reason TEXT,
    lift_recorded_at TEXT
);
CREATE INDEX IF NOT EXISTS rm_debarment_unit_idx ON rm_debarment (unit, start_on);
CREATE INDEX IF NOT EXISTS rm_debarment_end_idx ON rm_debarment (end_on, start_on);

CREATE TABLE IF NOT EXISTS rm_blacklist (
    id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    version INTEGER NOT NULL,
    added_on TEXT NOT NULL,
    basis TEXT,
    doc_no TEXT,
    reason TEXT,
    violation TEXT,
    recorded_at TEXT NOT NULL,
    removed_on TEXT,
    removal_doc_no TEXT,
    removal_reason TEXT,
    removal_recorded_at TEXT
);
CREATE INDEX IF NOT EXISTS rm_blacklist_unit_idx ON rm_blacklist (unit, added_on);
CREATE INDEX IF NOT EXISTS rm_blacklist_added_idx ON rm_blacklist (added_on);
CREATE INDEX IF NOT EXISTS rm_blacklist_open_idx ON rm_blacklist (removed_on);

CREATE TABLE IF NOT EXISTS rm_consortium_lead (
    unit TEXT NOT NULL,
    platform TEXT NOT NULL,
    since TEXT NOT NULL,
    until_on TEXT,
    recorded_at TEXT NOT NULL,
    until_recorded_at TEXT,
    PRIMARY KEY (unit, platform)
);

-- funds: every money event; the running totals per line; the payments.
-- Money: INTEGER cents on SQLite (exact, summable).
CREATE TABLE IF NOT EXISTS rm_fund_event (
    notification_id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    version INTEGER NOT NULL,
    movement TEXT NOT NULL,
    category TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    entitled INTEGER,
    entitlement TEXT,
    voucher TEXT,
    effective_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_fund_event_line_idx
    ON rm_fund_event (platform, category, fiscal_year, effective_on);
CREATE INDEX IF NOT EXISTS rm_fund_event_fy_idx ON rm_fund_event (fiscal_year, effective_on);

CREATE TABLE IF NOT EXISTS rm_fund_line (
    platform TEXT NOT NULL,
    category TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    allocated INTEGER NOT NULL,
    entitled INTEGER,
    disbursed INTEGER NOT NULL,
    reversed INTEGER NOT NULL,
    recovered INTEGER NOT NULL,
    PRIMARY KEY (platform, category, fiscal_year)
);
CREATE INDEX IF NOT EXISTS rm_fund_line_fy_idx ON rm_fund_line (fiscal_year);

CREATE TABLE IF NOT EXISTS rm_payment (
    voucher TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    category TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    paid_on TEXT NOT NULL,
    flags TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    reversed_on TEXT,
    reversal_recorded_at TEXT
);
CREATE INDEX IF NOT EXISTS rm_payment_fy_idx ON rm_payment (fiscal_year, paid_on);
CREATE INDEX IF NOT EXISTS rm_payment_platform_idx ON rm_payment (platform, paid_on);

-- change requests
CREATE TABLE IF NOT EXISTS rm_change_request (
    id TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    number INTEGER NOT NULL,
    change_type TEXT NOT NULL,
    details TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_on TEXT NOT NULL,
    reason TEXT,
    actor TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    decided_on TEXT,
    decision_doc_no TEXT,
    decision_reason TEXT,
    applied TEXT
);
CREATE INDEX IF NOT EXISTS rm_change_request_platform_idx ON rm_change_request (platform, number);
CREATE INDEX IF NOT EXISTS rm_change_request_status_idx ON rm_change_request (status, platform);

-- the history index: one row per event, by (aggregate, code, seq)
CREATE TABLE IF NOT EXISTS rm_history (
    seq INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL UNIQUE,
    aggregate TEXT NOT NULL,
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    event TEXT NOT NULL,
    effective_on TEXT,
    recorded_at TEXT NOT NULL,
    actor TEXT,
    doc_no TEXT,
    reason TEXT,
    basis TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_history_code_idx ON rm_history (aggregate, code, seq);
CREATE INDEX IF NOT EXISTS rm_history_code_on_idx ON rm_history (aggregate, code, effective_on);

-- compliance inputs: annual reports and evaluations (rectification dates,
-- consecutive poor years and late filings are on the platform rows)
CREATE TABLE IF NOT EXISTS rm_report (
    platform TEXT NOT NULL,
    year INTEGER NOT NULL,
    filed_on TEXT NOT NULL,
    due_on TEXT,
    late INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (platform, year)
);

CREATE TABLE IF NOT EXISTS rm_evaluation (
    platform TEXT NOT NULL,
    cycle TEXT NOT NULL,
    version INTEGER NOT NULL,
    grade TEXT NOT NULL,
    evaluated_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (platform, cycle)
);
