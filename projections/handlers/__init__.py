"""The read models' projections (one module a model): how each event changes
the rows. Loaded by the catch-up, rebuild and verify; never by a query."""
