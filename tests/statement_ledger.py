"""The ledger the statement fixtures (tests/fixtures/statements/) were written
for: three payments of March 2026 with vouchers V2026-0001 … V2026-0003 to
three units, recorded through the CLI; and a clean generic statement of the
same payments, to compare every layout's findings with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from aggregates.values import credit_code_check_char

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "statements"
TODAY = "2026-11-23"


def _code(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


# (unit code, name, platform, voucher, amount, paid on, account)
PAID = (
    (_code("12540000MB0000101"), "西藏大学", "LS-KL-101", "V2026-0001", "500000.00", "2026-03-05",
     "5400012345678901234"),
    (_code("12540000MB0000102"), "拉萨市高原生物研究所", "LS-KL-102", "V2026-0002", "120000.00",
     "2026-03-12", "6222024400001111222"),
    (_code("12540000MB0000103"), "西藏自治区农牧科学院", "LS-KL-103", "V2026-0003", "35000.50",
     "2026-03-28", "5400012345600009876"),
)  # fmt: skip

# fixture file -> the layout it has the shape of
FIXTURE_LAYOUT = {
    "abc-debit.csv": "abc-debit",
    "boc-debit.csv": "boc-debit",
    "boc-credit.csv": "boc-credit",
    "bocom-debit.csv": "bocom-debit",
    "cmb-app.csv": "cmb-app",
    "cmb-yiwangtong.csv": "cmb-yiwangtong",
    "交易明细_1546_20260301_20260331.xls": "ccb-personal",
    "ccb-corporate.xls": "ccb-corporate",
    "spdb-debit.xls": "spdb-debit",
    "icbc-personal.csv": "icbc-personal",
    "icbc-personal-v1.csv": "icbc-personal-v1",
    "icbc-corporate.xlsx": "icbc-corporate",
    "icbc-corporate-dc.csv": "icbc-corporate-dc",
    "treasury-zero-balance.csv": "treasury-zero-balance",
    "generic-en.csv": "generic-en",
    "generic-zh.csv": "generic-zh",
    "generic-direction.csv": "generic-direction",
}


def cli(url: str, *args: str, actor: str = "clerk") -> Any:
    from cli import main

    result = CliRunner().invoke(
        main, list(args), env={"LEDGER_DB": url, "LEDGER_ACTOR": actor, "LEDGER_TODAY": TODAY}
    )
    if result.exit_code != 0:
        raise AssertionError(f"ledger {' '.join(args)} → {result.exit_code}: {result.output}")
    return result


def build_statement_ledger(url: str) -> None:
    cli(url, "init")
    for n, (code, name, platform, voucher, amount, on, _) in enumerate(PAID, start=1):
        cli(url, "unit", "register", code, "--name", name, "--type", "university",
            "--on", "2025-01-01")  # fmt: skip
        cli(url, "platform", "propose", platform, "--name", f"重点实验室{n}", "--kind",
            "key-laboratory", "--level", "city", "--host", code, "--on", "2025-02-01")  # fmt: skip
        cli(url, "platform", "approve", platform, "--doc-no", f"拉科〔2025〕{n}号",
            "--on", "2025-03-01")  # fmt: skip
        cli(url, "funds", "allocate", platform, "--category", "operation",
            "--amount", "1000000", "--fiscal-year", "2026", "--doc-no", f"拉财〔2026〕{n}号",
            "--on", "2026-01-05")  # fmt: skip
        cli(url, "funds", "disburse", platform, "--category", "operation", "--amount", amount,
            "--fiscal-year", "2026", "--voucher", voucher, "--on", on)  # fmt: skip


def clean_statement() -> str:
    """The same payments as a clean generic CSV (CLI.md's English layout)."""
    lines = ["date,reference,payee,amount,account"]
    for _, name, _, voucher, amount, on, account in PAID:
        lines.append(f"{on},{voucher},{name},{amount},{account}")
    return "\n".join(lines) + "\n"


FINDING_KEYS = ("matched", "amount_mismatch", "ledger_only", "statement_only", "duplicates",
                "flags", "bad_lines")  # fmt: skip


def findings(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in FINDING_KEYS}
