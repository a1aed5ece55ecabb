-- 0100_read_models (PostgreSQL): the read models of projections/ (issue 3).
-- Derived data: `ledger projections rebuild` empties these tables and replays
-- every event; they are NOT append-only (the event tables are). Dates are
-- ISO text (YYYY-MM-DD), recorded_at is ISO 8601 UTC text with microseconds,
-- so both compare as text on both backends.

-- Tracking positions: the notification id each read model has applied up to,
-- written in the same transaction as the model's rows (docs/DESIGN.md "Read models").
CREATE TABLE IF NOT EXISTS rm_tracking (
    projection text PRIMARY KEY,
    notification_id bigint NOT NULL
);

-- Which aggregate (platform, unit, voucher) and code an originator id is:
-- events after the first carry only the id.
CREATE TABLE IF NOT EXISTS rm_aggregate (
    originator_id text PRIMARY KEY,
    aggregate text NOT NULL,
    code text NOT NULL
);

-- platforms: the current row (platform list), one snapshot per state-changing
-- event (platform show --as-of / --known-at) and the status history.
CREATE TABLE IF NOT EXISTS rm_platform (
    code text NOT NULL,
    version bigint NOT NULL,
    effective_on text NOT NULL,
    recorded_at text NOT NULL,
    event text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    level text NOT NULL,
    policy text NOT NULL,
    status text NOT NULL,
    status_since text NOT NULL,
    host_unit text NOT NULL,
    co_builders text NOT NULL,
    proposed_on text NOT NULL,
    approved_on text,
    construction_ends text,
    term_ends text,
    rectification_due text,
    delist_reason text,
    funding_suspended bigint NOT NULL,
    consecutive_poor bigint NOT NULL,
    due_for_termination bigint NOT NULL,
    agreement_on text,
    filing_due text,
    filing_late bigint NOT NULL,
    last_version bigint NOT NULL,
    PRIMARY KEY (code)
);
CREATE INDEX IF NOT EXISTS rm_platform_status_idx ON rm_platform (status, code);
CREATE INDEX IF NOT EXISTS rm_platform_kind_idx ON rm_platform (kind, code);
CREATE INDEX IF NOT EXISTS rm_platform_level_idx ON rm_platform (level, code);
CREATE INDEX IF NOT EXISTS rm_platform_host_idx ON rm_platform (host_unit);

CREATE TABLE IF NOT EXISTS rm_platform_snapshot (
    code text NOT NULL,
    version bigint NOT NULL,
    effective_on text NOT NULL,
    recorded_at text NOT NULL,
    event text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    level text NOT NULL,
    policy text NOT NULL,
    status text NOT NULL,
    status_since text NOT NULL,
    host_unit text NOT NULL,
    co_builders text NOT NULL,
    proposed_on text NOT NULL,
    approved_on text,
    construction_ends text,
    term_ends text,
    rectification_due text,
    delist_reason text,
    funding_suspended bigint NOT NULL,
    consecutive_poor bigint NOT NULL,
    due_for_termination bigint NOT NULL,
    agreement_on text,
    filing_due text,
    filing_late bigint NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE INDEX IF NOT EXISTS rm_platform_snapshot_asof_idx
    ON rm_platform_snapshot (code, effective_on, version);

CREATE TABLE IF NOT EXISTS rm_platform_status (
    code text NOT NULL,
    version bigint NOT NULL,
    effective_on text NOT NULL,
    recorded_at text NOT NULL,
    status text NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE INDEX IF NOT EXISTS rm_platform_status_on_idx
    ON rm_platform_status (code, effective_on, version);

-- units: the unit, its names (registered, renamed, aliases), violations,
-- debarments (with lifting), blacklist entries (with removal), consortia led.
CREATE TABLE IF NOT EXISTS rm_unit (
    code text PRIMARY KEY,
    version bigint NOT NULL,
    name text NOT NULL,
    unit_type text NOT NULL,
    high_tech bigint NOT NULL,
    aliases text NOT NULL,
    registered_on text NOT NULL,
    recorded_at text NOT NULL
);

CREATE TABLE IF NOT EXISTS rm_unit_name (
    code text NOT NULL,
    version bigint NOT NULL,
    source text NOT NULL,
    name text NOT NULL,
    since text NOT NULL,
    recorded_at text NOT NULL,
    PRIMARY KEY (code, version, source, name)
);
CREATE INDEX IF NOT EXISTS rm_unit_name_name_idx ON rm_unit_name (name);

CREATE TABLE IF NOT EXISTS rm_violation (
    id text PRIMARY KEY,
    unit text NOT NULL,
    version bigint NOT NULL,
    kind text NOT NULL,
    occurred_on text NOT NULL,
    found_on text NOT NULL,
    platform text,
    doc_no text,
    reason text,
    policy text,
    recorded_at text NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_violation_unit_idx ON rm_violation (unit, occurred_on);

CREATE TABLE IF NOT EXISTS rm_debarment (
    id text PRIMARY KEY,
    unit text NOT NULL,
    version bigint NOT NULL,
    years bigint NOT NULL,
    start_on text NOT NULL,
    end_on text NOT NULL,
    scopes text NOT NULL,
    basis text,
    doc_no text,
    reason text,
    violation text,
    recorded_at text NOT NULL,
    lifted_on text,
    lift_doc_no text,
    lift_reason text,
    lift_recorded_at text
);
CREATE INDEX IF NOT EXISTS rm_debarment_unit_idx ON rm_debarment (unit, start_on);
CREATE INDEX IF NOT EXISTS rm_debarment_end_idx ON rm_debarment (end_on, start_on);

CREATE TABLE IF NOT EXISTS rm_blacklist (
    id text PRIMARY KEY,
    unit text NOT NULL,
    version bigint NOT NULL,
    added_on text NOT NULL,
    basis text,
    doc_no text,
    reason text,
    violation text,
    recorded_at text NOT NULL,
    removed_on text,
    removal_doc_no text,
    removal_reason text,
    removal_recorded_at text
);
CREATE INDEX IF NOT EXISTS rm_blacklist_unit_idx ON rm_blacklist (unit, added_on);
CREATE INDEX IF NOT EXISTS rm_blacklist_added_idx ON rm_blacklist (added_on);
CREATE INDEX IF NOT EXISTS rm_blacklist_open_idx ON rm_blacklist (removed_on);

CREATE TABLE IF NOT EXISTS rm_consortium_lead (
    unit text NOT NULL,
    platform text NOT NULL,
    since text NOT NULL,
    until_on text,
    recorded_at text NOT NULL,
    until_recorded_at text,
    PRIMARY KEY (unit, platform)
);

-- funds: every money event; the running totals per line; the payments.
-- Money: numeric(18,2) yuan on PostgreSQL.
CREATE TABLE IF NOT EXISTS rm_fund_event (
    notification_id bigint PRIMARY KEY,
    platform text NOT NULL,
    version bigint NOT NULL,
    movement text NOT NULL,
    category text NOT NULL,
    fiscal_year bigint NOT NULL,
    amount numeric(18,2) NOT NULL,
    entitled numeric(18,2),
    entitlement text,
    voucher text,
    effective_on text NOT NULL,
    recorded_at text NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_fund_event_line_idx
    ON rm_fund_event (platform, category, fiscal_year, effective_on);
CREATE INDEX IF NOT EXISTS rm_fund_event_fy_idx ON rm_fund_event (fiscal_year, effective_on);

CREATE TABLE IF NOT EXISTS rm_fund_line (
    platform text NOT NULL,
    category text NOT NULL,
    fiscal_year bigint NOT NULL,
    allocated numeric(18,2) NOT NULL,
    entitled numeric(18,2),
    disbursed numeric(18,2) NOT NULL,
    reversed numeric(18,2) NOT NULL,
    recovered numeric(18,2) NOT NULL,
    PRIMARY KEY (platform, category, fiscal_year)
);
CREATE INDEX IF NOT EXISTS rm_fund_line_fy_idx ON rm_fund_line (fiscal_year);

CREATE TABLE IF NOT EXISTS rm_payment (
    voucher text PRIMARY KEY,
    platform text NOT NULL,
    category text NOT NULL,
    fiscal_year bigint NOT NULL,
    amount numeric(18,2) NOT NULL,
    paid_on text NOT NULL,
    flags text NOT NULL,
    recorded_at text NOT NULL,
    reversed_on text,
    reversal_recorded_at text
);
CREATE INDEX IF NOT EXISTS rm_payment_fy_idx ON rm_payment (fiscal_year, paid_on);
CREATE INDEX IF NOT EXISTS rm_payment_platform_idx ON rm_payment (platform, paid_on);

-- change requests
CREATE TABLE IF NOT EXISTS rm_change_request (
    id text PRIMARY KEY,
    platform text NOT NULL,
    number bigint NOT NULL,
    change_type text NOT NULL,
    details text NOT NULL,
    status text NOT NULL,
    requested_on text NOT NULL,
    reason text,
    actor text NOT NULL,
    recorded_at text NOT NULL,
    decided_on text,
    decision_doc_no text,
    decision_reason text,
    applied text
);
CREATE INDEX IF NOT EXISTS rm_change_request_platform_idx ON rm_change_request (platform, number);
CREATE INDEX IF NOT EXISTS rm_change_request_status_idx ON rm_change_request (status, platform);

-- the history index: one row per event, by (aggregate, code, seq)
CREATE TABLE IF NOT EXISTS rm_history (
    seq bigint PRIMARY KEY,
    notification_id bigint NOT NULL UNIQUE,
    aggregate text NOT NULL,
    code text NOT NULL,
    version bigint NOT NULL,
    event text NOT NULL,
    effective_on text,
    recorded_at text NOT NULL,
    actor text,
    doc_no text,
    reason text,
    basis text,
    data text NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_history_code_idx ON rm_history (aggregate, code, seq);
CREATE INDEX IF NOT EXISTS rm_history_code_on_idx ON rm_history (aggregate, code, effective_on);

-- compliance inputs: annual reports and evaluations (rectification dates,
-- consecutive poor years and late filings are on the platform rows)
CREATE TABLE IF NOT EXISTS rm_report (
    platform text NOT NULL,
    year bigint NOT NULL,
    filed_on text NOT NULL,
    due_on text,
    late bigint NOT NULL,
    recorded_at text NOT NULL,
    PRIMARY KEY (platform, year)
);

CREATE TABLE IF NOT EXISTS rm_evaluation (
    platform text NOT NULL,
    cycle text NOT NULL,
    version bigint NOT NULL,
    grade text NOT NULL,
    evaluated_on text NOT NULL,
    recorded_at text NOT NULL,
    PRIMARY KEY (platform, cycle)
);
