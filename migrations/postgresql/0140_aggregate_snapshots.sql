-- 0140_aggregate_snapshots (PostgreSQL): snapshots of aggregates with long
-- histories, a cache for commands (ledger/store/snapshots.py). Outside the
-- hash chain: no event_chain row is written for a snapshot, `ledger audit
-- verify` never reads this table, and deleting its rows is always safe.
-- chain_hash is that of the aggregate's event at originator_version: a
-- snapshot that does not match its recorded event is ignored.

CREATE TABLE IF NOT EXISTS public.aggregate_snapshots (
    originator_id text NOT NULL,
    originator_version bigint NOT NULL,
    chain_hash text NOT NULL,
    state text NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (originator_id, originator_version)
);
