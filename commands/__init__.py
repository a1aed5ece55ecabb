"""The commands of `ledger`, one module per group; cli.py's root group loads
each on demand (see cli.LazyGroup)."""
