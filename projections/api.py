"""Transitional: the read side's front door is ``ledger.reads``. These names
stay importable from here only for ``cli.py`` until its imports move there;
nothing in ``projections`` uses this module. Delete it then."""

from ledger.reads import ReadModels, inconsistency_warning, install, lag_warning, open_read

__all__ = ["ReadModels", "inconsistency_warning", "install", "lag_warning", "open_read"]
