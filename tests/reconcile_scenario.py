"""A realistic ledger and bank statements for the end-to-end reconciliation tests.

The ledger is recorded through the CLI (the contract), on whichever backend the
test's ``db_url`` names. The statements show every kind of finding once:

=========  ==========================================================================
voucher    what the statement does, and the finding
=========  ==========================================================================
PZ-001     paid as recorded                                   → matched
PZ-002     paid 99,000.00 of 100,000.00                       → amount_mismatch
PZ-003     not on the statement                               → ledger_only
PZ-004     paid twice                                         → matched + duplicates
PZ-005     reversed in the ledger, paid by the bank           → reversed-but-paid
PZ-006     reversed, not on the statement                     → nothing
PZ-007     no reference; payee is the host's former name      → matched by payee
PZ-008     paid four days after the ledger's date             → date-out-of-tolerance
PZ-020     bank paid 100,500.00 on a 100,000.00 allocation    → amount_mismatch +
                                                                over-allocation
PZ-030     host debarred on the payment date                  → debarred-host
PZ-040     host blacklisted on the payment date               → blacklisted-host
PZ-050     platform delisted the day before (recorded late)   → inactive-platform
PZ-2025-1  fiscal year 2025, paid 110,000.00 of 120,000.00    → amount_mismatch
                                                                (out of scope for 2026)
PZ-999     unknown voucher                                    → statement_only
=========  ==========================================================================
"""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from aggregates.values import credit_code_check_char


def _code(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


UNI = _code("12540000MB0000001")  # 西藏农牧学院, renamed 西藏农牧大学
CO = _code("91540100MA6T0000A")  # 拉萨高原科技有限公司
BAD = _code("91540100MA6T0000B")  # debarred from 2026-02-01
BL = _code("91540100MA6T0000E")  # blacklisted from 2026-02-01


def cli(url: str, *args: str) -> Any:
    from cli import main

    result = CliRunner().invoke(main, list(args), env={"LEDGER_DB": url, "LEDGER_ACTOR": "clerk"})
    if result.exit_code != 0:
        raise AssertionError(f"ledger {' '.join(args)} → {result.exit_code}: {result.output}")
    return result


def build_ledger(url: str) -> None:
    cli(url, "init")
    for code, name, kind in (
        (UNI, "西藏农牧学院", "university"),
        (CO, "拉萨高原科技有限公司", "enterprise"),
        (BAD, "拉萨雪域科技有限公司", "enterprise"),
        (BL, "拉萨净土科技有限公司", "enterprise"),
    ):
        cli(url, "unit", "register", code, "--name", name, "--type", kind, "--on", "2025-01-01")
    cli(
        url,
        "unit",
        "rename",
        UNI,
        "--name",
        "西藏农牧大学",
        "--doc-no",
        "藏教〔2025〕1号",
        "--on",
        "2025-06-01",
    )
    for n, host in ((1, UNI), (2, CO), (3, BAD), (4, BL), (5, CO)):
        code = f"LS-KL-00{n}"
        cli(
            url,
            "platform",
            "propose",
            code,
            "--name",
            f"重点实验室{n}",
            "--kind",
            "key-laboratory",
            "--level",
            "city",
            "--host",
            host,
            "--on",
            "2025-02-01",
        )
        cli(
            url, "platform", "approve", code, "--doc-no", f"拉科〔2025〕{n}号", "--on", "2025-03-01"
        )
        amount = "100000" if n == 2 else ("1000000" if n == 1 else "500000")
        cli(
            url,
            "funds",
            "allocate",
            code,
            "--category",
            "operation",
            "--amount",
            amount,
            "--fiscal-year",
            "2026",
            "--doc-no",
            f"拉财〔2026〕{n}号",
            "--on",
            "2026-01-05",
        )
    cli(
        url,
        "funds",
        "allocate",
        "LS-KL-001",
        "--category",
        "research",
        "--amount",
        "200000",
        "--fiscal-year",
        "2025",
        "--doc-no",
        "拉财〔2025〕9号",
        "--on",
        "2025-04-01",
    )
    cli(
        url,
        "unit",
        "debar",
        BAD,
        "--years",
        "3",
        "--from",
        "2026-02-01",
        "--scope",
        "project-application",
        "--doc-no",
        "拉科〔2026〕D1号",
        "--reason",
        "虚假材料",
    )
    cli(
        url,
        "unit",
        "blacklist",
        BL,
        "--doc-no",
        "拉科〔2026〕B1号",
        "--reason",
        "无故不完成科研任务",
        "--on",
        "2026-02-01",
    )

    def pay(
        platform: str,
        voucher: str,
        amount: str,
        on: str,
        year: str = "2026",
        category: str = "operation",
    ) -> None:
        cli(
            url,
            "funds",
            "disburse",
            platform,
            "--category",
            category,
            "--amount",
            amount,
            "--fiscal-year",
            year,
            "--voucher",
            voucher,
            "--on",
            on,
        )

    pay("LS-KL-001", "PZ-2025-1", "120000", "2025-05-01", "2025", "research")
    pay("LS-KL-001", "PZ-001", "100000", "2026-03-05")
    pay("LS-KL-001", "PZ-002", "100000", "2026-03-06")
    pay("LS-KL-001", "PZ-003", "100000", "2026-03-07")
    pay("LS-KL-001", "PZ-004", "50000", "2026-03-10")
    pay("LS-KL-001", "PZ-005", "80000", "2026-03-12")
    cli(
        url,
        "funds",
        "reverse",
        "LS-KL-001",
        "--voucher",
        "PZ-005",
        "--reason",
        "重复拨付",
        "--on",
        "2026-03-13",
    )
    pay("LS-KL-001", "PZ-006", "30000", "2026-03-20")
    cli(
        url,
        "funds",
        "reverse",
        "LS-KL-001",
        "--voucher",
        "PZ-006",
        "--reason",
        "金额有误",
        "--on",
        "2026-03-21",
    )
    pay("LS-KL-001", "PZ-007", "70000", "2026-04-10")
    pay("LS-KL-001", "PZ-008", "40000", "2026-05-01")
    pay("LS-KL-002", "PZ-020", "100000", "2026-04-01")
    pay("LS-KL-003", "PZ-030", "60000", "2026-03-15")
    pay("LS-KL-004", "PZ-040", "45000", "2026-03-16")
    pay("LS-KL-005", "PZ-050", "25000", "2026-03-18")
    # the delisting is recorded after the payment, effective the day before it
    cli(
        url,
        "platform",
        "delist",
        "LS-KL-005",
        "--reason-code",
        "other",
        "--doc-no",
        "拉科〔2026〕X1号",
        "--reason",
        "依托单位撤销",
        "--on",
        "2026-03-17",
    )


# (date, reference, payee, amount) of each payment line, in statement order
PAYMENTS = [
    ("2025-05-01", "PZ-2025-1", "西藏农牧大学", "110,000.00"),
    ("2026-03-05", "PZ-001", "西藏农牧大学", "100,000.00"),
    ("2026-03-06", "PZ-002", "西藏农牧大学", "99,000.00"),
    ("2026-03-10", "PZ-004", "西藏农牧大学", "50,000.00"),
    ("2026-03-10", "PZ-004", "西藏农牧大学", "50,000.00"),
    ("2026-03-12", "PZ-005", "西藏农牧大学", "80,000.00"),
    ("2026-03-15", "PZ-030", "拉萨雪域科技有限公司", "60,000.00"),
    ("2026-03-16", "PZ-040", "拉萨净土科技有限公司", "45,000.00"),
    ("2026-03-18", "PZ-050", "拉萨高原科技有限公司", "25,000.00"),
    ("2026-04-01", "PZ-020", "拉萨高原科技有限公司", "100,500.00"),
    ("2026-04-13", "", "西藏农牧学院", "70,000.00"),
    ("2026-05-05", "PZ-008", "西藏农牧大学", "40,000.00"),
    ("2026-06-01", "PZ-999", "无名设备有限公司", "8,000.00"),
]


def gbk_statement() -> tuple[bytes, int, int]:
    """A GBK export with Chinese headers: (bytes, line of PZ-999, line of the bad date)."""
    lines = [
        "西藏某银行 对公账户交易明细,,,,,",
        "账号：5400 1234 5678 0001,,,,,",
        "起止日期：2025-01-01 至 2026-11-23,,,,,",
        "",
        "交易日期,凭证号,摘要,对方户名,借方发生额,贷方发生额",
    ]
    for when, ref, payee, amount in PAYMENTS:
        d = when.replace("-", "/")
        lines.append(f'{d},{ref or "-"},科技经费拨款, {payee} ,"{amount}",-')
        if when == "2026-03-12":
            lines.append('2026/03/13,-,利息收入,-,-,"1,234.56"')
    lines.append('2026/02/30,PZ-777,运行费,西藏农牧大学,"1.00",-')
    lines.append('合计,,,,"828,501.00","1,234.56"')
    text = "\r\n".join(lines) + "\r\n"
    only = 1 + next(i for i, ln in enumerate(lines) if "PZ-999" in ln)
    bad = 1 + next(i for i, ln in enumerate(lines) if "PZ-777" in ln)
    return text.encode("gbk"), only, bad


def utf8_statement() -> tuple[bytes, int, int]:
    """A UTF-8 export with English headers and one amount column."""
    lines = ["Statement of account 5400 1234", "date,voucher,payee,amount"]
    for when, ref, payee, amount in PAYMENTS:
        lines.append(f'{when},{ref},{payee},"{amount}"')
    lines.append("2026-02-30,PZ-777,西藏农牧大学,1.00")
    lines.append('Total,,,"828,501.00"')
    text = "\n".join(lines) + "\n"
    only = 1 + next(i for i, ln in enumerate(lines) if "PZ-999" in ln)
    bad = 1 + next(i for i, ln in enumerate(lines) if "PZ-777" in ln)
    return text.encode("utf-8"), only, bad


def expected(only_line: int, fiscal_year: int | None = None) -> dict[str, Any]:
    mismatches = [
        {
            "voucher": "PZ-2025-1",
            "platform": "LS-KL-001",
            "ledger_amount": "120000.00",
            "statement_amount": "110000.00",
        },
        {
            "voucher": "PZ-002",
            "platform": "LS-KL-001",
            "ledger_amount": "100000.00",
            "statement_amount": "99000.00",
        },
        {
            "voucher": "PZ-020",
            "platform": "LS-KL-002",
            "ledger_amount": "100000.00",
            "statement_amount": "100500.00",
        },
    ]
    if fiscal_year == 2026:
        mismatches = mismatches[1:]
    return {
        "matched": 7,
        "amount_mismatch": mismatches,
        "ledger_only": [
            {
                "voucher": "PZ-003",
                "platform": "LS-KL-001",
                "amount": "100000.00",
                "paid_on": "2026-03-07",
            }
        ],
        "statement_only": [
            {
                "reference": "PZ-999",
                "payee": "无名设备有限公司",
                "amount": "8000.00",
                "date": "2026-06-01",
                "line": only_line,
            }
        ],
        "duplicates": [{"voucher": "PZ-004", "where": "statement", "count": 2}],
        "flag_kinds": [
            ("PZ-005", "reversed-but-paid"),
            ("PZ-030", "debarred-host"),
            ("PZ-040", "blacklisted-host"),
            ("PZ-050", "inactive-platform"),
            ("PZ-020", "over-allocation"),
            ("PZ-008", "date-out-of-tolerance"),
        ],
    }


def check(data: dict[str, Any], want: dict[str, Any]) -> None:
    for key in ("matched", "amount_mismatch", "ledger_only", "statement_only", "duplicates"):
        assert data[key] == want[key], key
    assert [(f["voucher"], f["flag"]) for f in data["flags"]] == want["flag_kinds"]
