"""A synthetic JSON Lines import of about N events, for the import's kill test
and its benchmarks: units, key laboratories and engineering centres under
lhasa-city (proposed and approved), a yearly operation allocation per
platform, and payments (two events each: the payment and its voucher),
interleaved over the platforms in date order — platforms with hundreds of
payments, as a bureau's payment ledger has them. Every line is valid; the
file is the same for the same N."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aggregates.values import credit_code_check_char

START = date(2021, 1, 4)
LAST_DAY = date(2026, 11, 20)  # before the tests' fixed today (2026-11-23)


def _unit(i: int) -> str:
    first17 = f"91540100MA{i:07d}"
    return first17 + credit_code_check_char(first17)


def sample_lines(events: int) -> Iterator[dict[str, Any]]:
    """Lines recording about ``events`` events (at least a few hundred)."""
    platforms = max(2, events // 1000)
    units = platforms * 2
    years = list(range(2021, 2027))
    # units (1 event), propose + approve (about 3), allocations (1 a year)
    fixed = units + platforms * 3 + platforms * len(years)
    payments = max(0, (events - fixed) // 2)
    for i in range(units):
        yield {
            "command": "unit register",
            "args": {
                "code": _unit(i),
                "name": f"拉萨第{i + 1}科技有限公司",
                "type": "enterprise",
                "high-tech": i % 3 == 0,
                "on": "2020-06-01",
            },
        }
    for p in range(platforms):
        code = f"LS-{'KL' if p % 2 == 0 else 'ERC'}-{p + 1:04d}"
        yield {
            "command": "platform propose",
            "args": {
                "code": code,
                "name": f"拉萨第{p + 1}{'重点实验室' if p % 2 == 0 else '工程技术研究中心'}",
                "kind": "key-laboratory" if p % 2 == 0 else "engineering-research-center",
                "level": "city",
                "host": _unit(2 * p),
                "co-builder": [_unit(2 * p + 1)],
                "policy": "lhasa-city",
                "on": "2020-09-01",
            },
        }
        yield {
            "command": "platform approve",
            "args": {"code": code, "doc-no": f"拉科发〔2020〕{p + 1}号", "on": "2020-12-01"},
        }
        for y in years:
            yield {
                "command": "funds allocate",
                "args": {
                    "code": code,
                    "category": "operation",
                    "amount": "50000000.00",
                    "fiscal-year": y,
                    "doc-no": f"拉财教〔{y}〕{p + 1}号",
                    "on": f"{y}-01-02",
                },
            }
    span = (LAST_DAY - START).days
    for n in range(payments):
        p = n % platforms
        day = START + timedelta(days=span * n // max(1, payments))
        yield {
            "command": "funds disburse",
            "args": {
                "code": f"LS-{'KL' if p % 2 == 0 else 'ERC'}-{p + 1:04d}",
                "category": "operation",
                "amount": f"{1000 + n % 997}.{n % 100:02d}",
                "fiscal-year": day.year,
                "voucher": f"PZ{day.year}-{n + 1:07d}",
                "on": day.isoformat(),
            },
        }


def write_sample(path: Path, events: int) -> int:
    """Write the sample to ``path``; returns its number of lines."""
    count = 0
    with path.open("w", encoding="utf-8") as f:
        for line in sample_lines(events):
            f.write(json.dumps(line, ensure_ascii=False))
            f.write("\n")
            count += 1
    return count
