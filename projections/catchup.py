"""Transitional: catch-up, rebuild, status and verify now live in
``projections.runner``, ``projections.rebuild`` and ``projections.verify``,
and the CLI's way in is ``ledger.reads``. These names stay importable from
here only for ``cli.py`` until its imports move there. Delete it then."""

from projections.rebuild import rebuild
from projections.runner import CatchUpResult, catch_up, reading, status
from projections.verify import VerifyReport, verify

__all__ = ["CatchUpResult", "VerifyReport", "catch_up", "reading", "rebuild", "status", "verify"]
