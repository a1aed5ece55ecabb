"""Reconciliation at real size (issue 13; not run in CI): a year's statement of
50,000 lines against a ledger of 100,000 payments, target under 10 s.

The ledger is the in-memory ReconcileSource of tests/reconcile/test_reconcile.py
(so this measures the statement reader and the matching engine, not the
database). The statement is an ICBC corporate-shaped CSV (GBK, ``[HISTORYDETAIL]``
preamble, the bank's 凭证号, out/in columns, running balance): most
payments carry their voucher in the free text, one in ten only the payee
(matched by payee, amount and date), a few are unknown, and every 50th line
is money coming in.

    .venv/bin/python benchmarks/reconcile_scale.py [--lines 50000] [--payments 100000]

Prints the time of each step; progress on stderr when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.reconcile import reconcile
from ledger.reconcile.source import LedgerPayment
from ledger.reconcile.statement import parse_statement
from tests.reconcile.test_reconcile import FakeLedger

START = date(2026, 1, 1)


def progress(message: str) -> None:
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def build(n_lines: int, n_payments: int, folder: Path) -> tuple[FakeLedger, Path]:
    rng = random.Random(13)
    units = [f"91540100MA6T{i:05d}X" for i in range(500)]
    names: dict[str, str | frozenset[str]] = {
        f"拉萨科研单位{i:03d}": u for i, u in enumerate(units)
    }
    payments = []
    for i in range(n_payments):
        payments.append(
            LedgerPayment(
                voucher=f"V2026-{i:06d}",
                platform=f"LS-KL-{i % 900:03d}",
                category="operation",
                fiscal_year=2026,
                amount=Decimal(rng.randint(100, 5_000_000)) / 100,
                paid_on=START + timedelta(days=i * 365 // n_payments),
                reversed=False,
                host_unit=units[i % len(units)],
            )
        )
    source = FakeLedger(items=payments, names=names)
    chosen = sorted(rng.sample(range(n_payments), n_lines))
    balance = Decimal("1000000000.00")
    rows = []
    for k, i in enumerate(chosen):
        p = payments[i]
        when = f"{p.paid_on.isoformat()} 10:00:00"
        serial = f"{k:011d}"
        if k % 50 == 49:  # interest or money back: never a payment
            inflow = Decimal("12.34")
            balance += inflow
            rows.append(f"{serial},{when},中国工商银行,,{inflow},,{balance},结息,利息,")
            continue
        balance -= p.amount
        payee = f"拉萨科研单位{i % len(units):03d}"
        if k % 10 == 3:  # no voucher: matched by payee, amount and date
            memo = "科研经费"
        elif k % 97 == 5:
            memo = f"未知付款 X{k}"
        else:
            memo = f"拨付 {p.voucher}"
        rows.append(f"{serial},{when},{payee},6222{i:015d},,{p.amount},{balance},{memo},转账,")
    text = "\r\n".join(
        [
            "[HISTORYDETAIL]",
            "凭证号,交易时间,对方单位,对方账号,转入金额,转出金额,余额,用途,摘要,附言",
            *rows,
        ]
    )
    path = folder / "icbc-2026.csv"
    path.write_bytes(text.encode("gbk"))
    return source, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--payments", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        progress(f"building {args.payments:,} payments and a {args.lines:,}-line statement…")
        source, path = build(args.lines, args.payments, Path(tmp))
        c0, t0 = time.process_time(), time.perf_counter()
        progress("reading the statement…")
        parsed = parse_statement(path)
        c1, t1 = time.process_time(), time.perf_counter()
        progress(f"matching {len(parsed.lines):,} payments to the ledger…")
        report = reconcile(source, parsed)
        c2, t2 = time.process_time(), time.perf_counter()
    print(f"statement: {args.lines:,} lines ({parsed.layout}, {parsed.encoding}); "
          f"ledger: {args.payments:,} payments")  # fmt: skip
    print(f"read {t1 - t0:.2f} s, match {t2 - t1:.2f} s, total {t2 - t0:.2f} s (target < 10 s)")
    print(
        f"CPU time: read {c1 - c0:.2f} s, match {c2 - c1:.2f} s, total {c2 - c0:.2f} s "
        "(the wall time above includes waiting for a busy machine)"
    )
    print(
        f"matched {report.matched:,}, statement_only {len(report.statement_only):,}, "
        f"ledger_only {len(report.ledger_only):,}, bad lines {len(report.bad_lines)}, checks "
        + ", ".join(f"{c.check} {'ok' if c.ok else 'FAILED'}" for c in report.statement_checks)
    )


if __name__ == "__main__":
    main()
