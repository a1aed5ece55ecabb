-- 0110_debarment_programme: every debarment carries the programme (policy id)
-- whose document imposed it, NULL for a ledger-wide ban (SPEC §2.1, issue 11).
-- Derived data: a ban recorded before it carried its programme reads as the
-- programme whose article its basis cites (the Debarred event's upcast,
-- aggregates/unit.py); the backfill gives what a rebuild gives. The documents
-- are the policy files' `document` numbers (ledger/policies/*.toml).
ALTER TABLE rm_debarment ADD COLUMN policy TEXT;
UPDATE rm_debarment SET policy = CASE
    WHEN basis LIKE '000 %' THEN 'xinjiang-high-energy'
    WHEN basis LIKE '001 %' THEN 'xinjiang-tic'
    WHEN basis LIKE '002 %' THEN 'xinjiang-consortium'
    WHEN basis LIKE '003 %' THEN 'lhasa-city'
    WHEN basis LIKE '004 %' THEN 'keqiao-co-built'
    ELSE NULL
END;
