"""Reconcile the ledger's payments against a bank or treasury statement,
one room per capability (docs/RECONCILE.md states every rule):

- reading a statement: :mod:`ledger.reconcile.statement` (the file: encoding,
  rows, lines), :mod:`~ledger.reconcile.columns` (which column holds what),
  :mod:`~ledger.reconcile.cells` (amounts, dates, totals and balance labels);
- :mod:`ledger.reconcile.source`: what is read from the ledger
  (:class:`ReconcileSource`, and :class:`AppSource` over the application);
- :mod:`ledger.reconcile.matching`: pairing lines with payments;
- :mod:`ledger.reconcile.findings`: the pairings, discrepancies and flags;
- :mod:`ledger.reconcile.report`: JSON, CSV, the terminal table, the workbook;
- :mod:`ledger.reconcile.demo_statement`: the demo's bank statement.

The names callers use are importable from here: ``rc.reconcile(...)``.
"""

from __future__ import annotations

from aggregates.values import CENT
from ledger.reconcile.demo_statement import (
    demo_statement_lines,
    write_demo_statement,
    write_demo_statement_from_ledger,
)
from ledger.reconcile.findings import (
    DEFAULT_TOLERANCE_DAYS,
    FINDINGS,
    FLAG_KINDS,
    AmountMismatch,
    Duplicate,
    Flag,
    FlagKind,
    LedgerOnly,
    Match,
    ReconcileReport,
    StatementOnly,
    money,
)
from ledger.reconcile.matching import (
    ACTIVE_STATUSES,
    reconcile,
    reconcile_file,
    voucher_like_tokens,
)
from ledger.reconcile.report import (
    CSV_COLUMNS,
    LABELS,
    check_out_path,
    rows,
    summary,
    to_csv,
    to_dict,
    to_json,
    to_table,
    to_xlsx,
    write_report,
)
from ledger.reconcile.source import AggregateReader, AppSource, LedgerPayment, ReconcileSource

__all__ = [
    "ACTIVE_STATUSES",
    "CENT",
    "CSV_COLUMNS",
    "DEFAULT_TOLERANCE_DAYS",
    "FINDINGS",
    "FLAG_KINDS",
    "LABELS",
    "AggregateReader",
    "AmountMismatch",
    "AppSource",
    "Duplicate",
    "Flag",
    "FlagKind",
    "LedgerOnly",
    "LedgerPayment",
    "Match",
    "ReconcileReport",
    "ReconcileSource",
    "StatementOnly",
    "check_out_path",
    "demo_statement_lines",
    "money",
    "reconcile",
    "reconcile_file",
    "rows",
    "summary",
    "to_csv",
    "to_dict",
    "to_json",
    "to_table",
    "to_xlsx",
    "voucher_like_tokens",
    "write_demo_statement",
    "write_demo_statement_from_ledger",
    "write_report",
]
