-- 0101_read_model_dates (SQLite): read-model columns and indexes for answers
-- as of a date whatever "today" is, and for queries whose cost does not grow
-- with the ledger (docs/DESIGN.md "Read models"). Derived data: the backfills
-- below give what a rebuild gives (`ledger projections verify` checks it).
--
-- Index names: a rebuild on SQLite swaps in tables whose indexes carry the
-- other of two names (NAME / NAME__r), as SQLite cannot rename an index; a
-- later migration touching a read-model index must name both.

-- The newest effective date of a fund line's money events: its running totals
-- answer `funds summary --as-of D` only when this is on or before D.
ALTER TABLE rm_fund_line ADD COLUMN last_effective_on TEXT;
UPDATE rm_fund_line SET last_effective_on = (
    SELECT MAX(e.effective_on) FROM rm_fund_event e
    WHERE e.platform = rm_fund_line.platform AND e.category = rm_fund_line.category
      AND e.fiscal_year = rm_fund_line.fiscal_year
);

-- The date a debarment was decided (the Debarred event's effective date): as
-- of an earlier date it had not been imposed.
ALTER TABLE rm_debarment ADD COLUMN imposed_on TEXT;
UPDATE rm_debarment SET imposed_on = (
    SELECT h.effective_on FROM rm_history h
    WHERE h.aggregate = 'unit' AND h.code = rm_debarment.unit AND h.version = rm_debarment.version
);

-- `history --since/--until` without a code: a range of effective dates.
CREATE INDEX IF NOT EXISTS rm_history_on_idx ON rm_history (effective_on, seq);

-- `funds summary --as-of D`: one covering range probe per line.
CREATE INDEX IF NOT EXISTS rm_fund_event_asof_idx
    ON rm_fund_event (platform, category, fiscal_year, effective_on, movement, amount, entitled);
DROP INDEX IF EXISTS rm_fund_event_line_idx;
