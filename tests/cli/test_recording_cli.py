"""The recording commands of CLI.md, driven as a clerk drives them: through
click's CliRunner on both backends, and through real `ledger` processes where
exit codes, stderr and concurrency matter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from cli import main
from ledger.service import LedgerService
from tests.scenario import UNITS, code, credit_code, event_count, init_ledger, register_all

LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
BIO, TIBET_U, JINGTU, ZHIZAO, MED = (
    code("bio"),
    code("tibet_u"),
    code("jingtu"),
    code("zhizao"),
    code("med_inst"),
)
UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/none"


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """The CLI configures structlog on the runner's stderr; undo it afterwards."""
    yield
    structlog.reset_defaults()


def ledger(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, *args])


def ok_json(url: str, *args: str) -> dict[str, Any]:
    """Run a recording command with --format json; it must succeed."""
    r = ledger(url, *args, "--format", "json")
    assert r.exit_code == 0, f"{args}: exit {r.exit_code}: {r.stderr}"
    data: dict[str, Any] = json.loads(r.stdout)
    assert {"event", "code", "version"} <= set(data), data
    return data


def count(url: str) -> int:
    svc = LedgerService(url)
    try:
        return event_count(svc)
    finally:
        svc.close()


def one_error_line(stderr: str) -> str:
    lines = stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --- a realistic flow: every recording command ------------------------------------------


def test_every_recording_command_on_a_realistic_flow(db_url: str) -> None:
    # ledger init
    r = ledger(db_url, "init")
    assert r.exit_code == 0, r.stderr
    assert "default policy: lhasa-city" in r.stdout
    assert ledger(db_url, "init").exit_code == 0  # idempotent

    # units
    for c, name, unit_type, high_tech in UNITS.values():
        args = ["unit", "register", c, "--name", name, "--type", unit_type, "--on", "2020-01-02"]
        if high_tech:
            args += ["--high-tech", "--alias", name[:4]]
        data = ok_json(db_url, *args)
        assert (data["event"], data["code"], data["version"]) == ("Registered", c, 1)
    data = ok_json(
        db_url,
        "unit", "rename", BIO, "--name", "西藏高原生物科技集团有限公司",
        "--doc-no", "拉市监〔2021〕12号", "--on", "2021-01-01",
    )  # fmt: skip
    assert (data["event"], data["version"]) == ("Renamed", 2)

    # a Lhasa key laboratory: propose, approve, report, evaluate, upgrade
    data = ok_json(
        db_url,
        "platform", "propose", "LS-KL-001", "--name", "拉萨高原生物重点实验室",
        "--kind", "key-laboratory", "--level", "city", "--host", BIO,
        "--co-builder", TIBET_U, "--on", "2023-01-10",
    )  # fmt: skip
    assert (data["event"], data["code"], data["version"]) == ("Proposed", "LS-KL-001", 1)
    data = ok_json(
        db_url,
        "platform",
        "approve",
        "LS-KL-001",
        "--doc-no",
        "拉科发〔2023〕5号",
        "--on",
        "2023-03-01",
    )
    assert data["event"] == "Approved"
    assert ("EntitlementEarned", "003 art. 15") in [
        (e["event"], e["basis"]) for e in data["recorded"]
    ]
    data = ok_json(
        db_url, "platform", "report", "LS-KL-001", "--year", "2024", "--on", "2024-12-02"
    )
    assert data["event"] == "ReportFiled"
    assert any("003 art. 20" in w for w in data["warnings"])  # late: after 30 November
    data = ok_json(
        db_url,
        "platform", "evaluate", "LS-KL-001", "--cycle", "2023-2025", "--grade", "good",
        "--doc-no", "拉科发〔2025〕40号", "--on", "2025-12-01",
    )  # fmt: skip
    assert data["event"] == "Evaluated"
    data = ok_json(
        db_url,
        "platform", "upgrade", "LS-KL-001", "--level", "regional",
        "--doc-no", "藏科发〔2026〕2号", "--on", "2026-01-10",
    )  # fmt: skip
    assert data["event"] == "Upgraded"

    # a Xinjiang high-energy platform: construction, acceptance
    ok_json(
        db_url,
        "platform", "propose", "XJ-HE-001", "--name", "新疆新材料高能级平台",
        "--kind", "high-energy-platform", "--level", "regional", "--host", code("tianshan"),
        "--policy", "xinjiang-high-energy", "--on", "2022-01-05",
    )  # fmt: skip
    data = ok_json(
        db_url,
        "platform", "approve", "XJ-HE-001", "--doc-no", "新科发〔2022〕3号",
        "--construction-years", "3", "--on", "2022-03-01",
    )  # fmt: skip
    assert data["event"] == "Approved"
    data = ok_json(
        db_url,
        "platform",
        "accept",
        "XJ-HE-001",
        "--doc-no",
        "新科发〔2025〕9号",
        "--on",
        "2025-03-10",
    )
    assert data["event"] == "Accepted"

    # another: failed acceptance, then a passed rectification
    ok_json(
        db_url,
        "platform", "propose", "XJ-HE-002", "--name", "新疆能源高能级平台",
        "--kind", "high-energy-platform", "--level", "regional", "--host", code("xj_u"),
        "--policy", "xinjiang-high-energy", "--on", "2022-01-05",
    )  # fmt: skip
    ok_json(
        db_url,
        "platform", "approve", "XJ-HE-002", "--doc-no", "新科发〔2022〕4号",
        "--construction-years", "2", "--on", "2022-03-01",
    )  # fmt: skip
    data = ok_json(
        db_url,
        "platform", "fail-acceptance", "XJ-HE-002", "--doc-no", "新科发〔2024〕7号",
        "--reason", "未达到建设目标", "--on", "2024-03-05",
    )  # fmt: skip
    assert data["event"] == "AcceptanceFailed"
    data = ok_json(
        db_url,
        "platform", "rectify", "XJ-HE-002", "--passed", "--doc-no", "新科发〔2025〕1号",
        "--on", "2025-01-10",
    )  # fmt: skip
    assert data["event"] == "RectificationPassed"

    # a key laboratory that fails its rectification: delisted, host barred (003 art. 24)
    ok_json(
        db_url,
        "platform", "propose", "LS-KL-002", "--name", "净土农业重点实验室",
        "--kind", "key-laboratory", "--level", "city", "--host", JINGTU, "--on", "2023-05-01",
    )  # fmt: skip
    ok_json(db_url, "platform", "approve", "LS-KL-002", "--doc-no", "d1", "--on", "2023-06-01")
    ok_json(
        db_url,
        "platform", "evaluate", "LS-KL-002", "--cycle", "2023-2025", "--grade", "poor",
        "--doc-no", "d2", "--on", "2025-06-01",
    )  # fmt: skip
    data = ok_json(
        db_url,
        "platform", "rectify", "LS-KL-002", "--failed", "--doc-no", "拉科发〔2026〕12号",
        "--on", "2026-06-01",
    )  # fmt: skip
    assert data["event"] == "RectificationFailed"
    assert ("unit", "Debarred", "003 art. 24") in [
        (e["aggregate"], e["event"], e["basis"]) for e in data["recorded"]
    ]

    # proposals that end: rejected, withdrawn
    for plat, host in (("LS-ERC-009", ZHIZAO), ("LS-ERC-010", MED)):
        ok_json(
            db_url,
            "platform", "propose", plat, "--name", "工程技术研究中心",
            "--kind", "engineering-research-center", "--level", "city", "--host", host,
            "--on", "2026-01-05",
        )  # fmt: skip
    data = ok_json(
        db_url, "platform", "reject", "LS-ERC-009", "--doc-no", "d", "--reason", "不符合备案条件"
    )
    assert data["event"] == "Rejected"
    data = ok_json(db_url, "platform", "withdraw", "LS-ERC-010", "--reason", "申报单位撤回")
    assert data["event"] == "Withdrawn"

    # change requests: approve, reject, withdraw
    data = ok_json(
        db_url,
        "change", "request", "LS-KL-001", "--type", "rename",
        "--detail", "name=拉萨高原生物与健康重点实验室", "--reason", "依托单位更名",
        "--on", "2026-02-01",
    )  # fmt: skip
    assert (data["event"], data["id"]) == ("ChangeRequested", "LS-KL-001:CR1")
    data = ok_json(db_url, "change", "approve", "LS-KL-001:CR1", "--doc-no", "拉科发〔2026〕3号")
    assert (data["event"], data["id"]) == ("ChangeApproved", "LS-KL-001:CR1")
    cr2 = ok_json(
        db_url,
        "change", "request", "LS-KL-001", "--type", "co-builder-change",
        "--detail", f"add={MED}", "--reason", "增加共建单位",
    )  # fmt: skip
    assert cr2["id"] == "LS-KL-001:CR2"
    data = ok_json(
        db_url, "change", "reject", "LS-KL-001:CR2", "--doc-no", "d", "--reason", "不充分"
    )
    assert data["event"] == "ChangeRejected"
    cr3 = ok_json(
        db_url,
        "change", "request", "LS-KL-001", "--type", "other", "--detail", "note=调整研究方向",
        "--reason", "调整",
    )  # fmt: skip
    data = ok_json(db_url, "change", "withdraw", cr3["id"], "--reason", "撤回")
    assert data["event"] == "ChangeWithdrawn"

    # funds
    data = ok_json(
        db_url,
        "funds", "allocate", "LS-KL-001", "--category", "operation", "--amount", "1,000,000",
        "--fiscal-year", "2026", "--doc-no", "拉财教〔2026〕1号", "--on", "2026-01-15",
    )  # fmt: skip
    assert data["event"] == "FundsAllocated"
    for voucher, amount in (("PZ-2026-0001", "300000"), ("PZ-2026-0002", "200000.00")):
        data = ok_json(
            db_url,
            "funds", "disburse", "LS-KL-001", "--category", "operation", "--amount", amount,
            "--fiscal-year", "2026", "--voucher", voucher, "--on", "2026-03-15",
        )  # fmt: skip
        assert data["event"] == "FundsDisbursed"
    data = ok_json(
        db_url, "funds", "reverse", "LS-KL-001", "--voucher", "PZ-2026-0002", "--reason", "重复拨付"
    )
    assert data["event"] == "DisbursementReversed"
    data = ok_json(
        db_url,
        "funds", "recover", "LS-KL-001", "--category", "operation", "--fiscal-year", "2026",
        "--amount", "50000", "--doc-no", "拉财追〔2026〕1号", "--reason", "违规使用",
    )  # fmt: skip
    assert data["event"] == "FundsRecovered"
    data = ok_json(
        db_url, "funds", "suspend", "LS-KL-001", "--doc-no", "d", "--reason", "未单独核算"
    )
    assert data["event"] == "FundingSuspended"
    data = ok_json(db_url, "funds", "resume", "LS-KL-001", "--doc-no", "d")
    assert data["event"] == "FundingResumed"

    # integrity: a violation, a blacklisting and its removal, a debarment and its lifting
    data = ok_json(
        db_url,
        "unit", "violation", MED, "--kind", "task-default", "--occurred-on", "2026-01-01",
        "--on", "2026-03-01", "--doc-no", "拉科发〔2026〕8号",
    )  # fmt: skip
    assert (data["event"], data["id"]) == ("ViolationRecorded", f"{MED}:V1")
    assert ("Blacklisted", "003 art. 25") in [(e["event"], e["basis"]) for e in data["recorded"]]
    data = ok_json(
        db_url,
        "unit",
        "unblacklist",
        MED,
        "--doc-no",
        "信用修复〔2026〕1号",
        "--reason",
        "信用修复",
    )
    assert data["event"] == "Unblacklisted"
    data = ok_json(db_url, "unit", "blacklist", ZHIZAO, "--doc-no", "d", "--reason", "失信")
    assert data["event"] == "Blacklisted"
    data = ok_json(
        db_url,
        "unit", "debar", ZHIZAO, "--years", "5", "--from", "2026-02-01",
        "--scope", "platform-application,project-application", "--doc-no", "d",
        "--reason", "弄虚作假", "--basis", "003 art. 25",
    )  # fmt: skip
    assert (data["event"], data["id"]) == ("Debarred", f"{ZHIZAO}:D2")
    data = ok_json(db_url, "unit", "lift", ZHIZAO, "D2", "--doc-no", "d", "--reason", "申诉成立")
    assert data["event"] == "DebarmentLifted"

    # delist
    data = ok_json(
        db_url,
        "platform", "delist", "XJ-HE-001", "--reason-code", "other", "--doc-no", "d",
        "--reason", "依托单位注销",
    )  # fmt: skip
    assert data["event"] == "Delisted"

    # and what the ledger now holds
    svc = LedgerService(db_url)
    try:
        assert svc.platform("LS-KL-001").name == "拉萨高原生物与健康重点实验室"
        assert svc.platform("LS-KL-001").level == "regional"
        assert svc.platform("LS-KL-002").status == "delisted"
        assert svc.platform("XJ-HE-002").status == "operating"
        line = svc.platform("LS-KL-001").line("operation", 2026)
        assert line is not None
        assert (line.net, line.remaining) == (Decimal("250000.00"), Decimal("700000.00"))
        assert [d.end for d in svc.unit(JINGTU).debarments.values()] == [date(2029, 6, 1)]
        assert svc.unit(ZHIZAO).debarments[f"{ZHIZAO}:D2"].lifted_on == date(2026, 11, 23)
    finally:
        svc.close()


def test_the_table_output_says_what_was_recorded(sqlite_url: str) -> None:
    init_ledger(sqlite_url)
    r = ledger(
        sqlite_url,
        "unit",
        "register",
        BIO,
        "--name",
        "拉萨高原生物科技有限公司",
        "--type",
        "enterprise",
    )
    assert r.exit_code == 0
    assert f"recorded Registered for {BIO} (version 1)" in r.stdout
    r = ledger(
        sqlite_url,
        "unit", "violation", BIO, "--kind", "false-materials", "--occurred-on", "2026-01-01",
        "--doc-no", "d",
    )  # fmt: skip
    assert r.exit_code == 0
    assert f"id: {BIO}:V1" in r.stdout
    assert "Debarred (003 art. 25)" in r.stdout


def test_the_actor_comes_from_the_option_or_the_environment(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_ledger(sqlite_url)
    monkeypatch.delenv("LEDGER_ACTOR")
    args = ["unit", "register", BIO, "--name", "n", "--type", "enterprise"]
    r = ledger(sqlite_url, *args)
    assert r.exit_code == 2
    assert "actor" in one_error_line(r.stderr)
    assert count(sqlite_url) == 0
    assert ledger(sqlite_url, *args, "--actor", "李文书").exit_code == 0
    assert _events(sqlite_url)[-1].actor == "李文书"


def _events(url: str) -> list[Any]:
    svc = LedgerService(url)
    try:
        return [ev for _, ev in svc.all_codes()]
    finally:
        svc.close()


# --- refusals: one line on stderr, the right exit code, nothing recorded -------------------


@pytest.fixture
def ready(db_url: str) -> str:
    """An initialised ledger: every unit, LS-KL-001 operating with 1,000,000 allocated,
    and a debarred host."""
    init_ledger(db_url)
    svc = LedgerService(db_url)
    register_all(svc)
    svc.propose(
        "LS-KL-001",
        name="拉萨高原生物重点实验室",
        kind="key-laboratory",
        level="city",
        host=BIO,
        co_builders=[],
        actor="setup",
        on=date(2023, 1, 10),
    )
    svc.approve("LS-KL-001", doc_no="d", actor="setup", on=date(2023, 3, 1))
    svc.allocate(
        "LS-KL-001",
        category="operation",
        amount=Decimal("1000000"),
        fiscal_year=2026,
        doc_no="d",
        actor="setup",
        on=date(2026, 1, 15),
    )
    svc.disburse(
        "LS-KL-001",
        category="operation",
        amount=Decimal("100"),
        fiscal_year=2026,
        voucher="PZ-1",
        actor="setup",
        on=date(2026, 2, 1),
    )
    svc.debar(
        ZHIZAO,
        years=3,
        start=date(2026, 1, 1),
        scopes=["platform-application"],
        doc_no="拉科发〔2026〕1号",
        reason="r",
        basis="003 art. 24",
        actor="setup",
    )
    svc.close()
    return db_url


PAY = ["funds", "disburse", "LS-KL-001", "--category", "operation", "--fiscal-year", "2026"]
REGISTER = ["unit", "register", "--name", "某单位", "--type", "enterprise"]

APPROVE = ["platform", "approve", "LS-KL-001", "--doc-no", "d"]
EVALUATE = ["platform", "evaluate", "LS-KL-001", "--cycle", "c", "--doc-no", "d"]
VIOLATION = ["unit", "violation", BIO, "--occurred-on", "2026-01-01", "--doc-no", "d"]
DEBAR = [
    "unit",
    "debar",
    BIO,
    "--from",
    "2026-01-01",
    "--scope",
    "platform-application",
    "--doc-no",
    "d",
    "--reason",
    "r",
]
PROPOSE = [
    "platform",
    "propose",
    "LS-KL-009",
    "--name",
    "n",
    "--kind",
    "key-laboratory",
    "--level",
    "city",
]
STRANGER = credit_code("91110000000000001")

# fmt: off
REFUSALS: list[tuple[str, list[str], int, str]] = [
    # exit 1: refused by a rule
    ("approve twice", APPROVE, 1, "it is operating"),
    ("accept operating", ["platform", "accept", "LS-KL-001", "--doc-no", "d"], 1,
     "it is operating"),
    ("over-allocation", [*PAY, "--amount", "999900.01", "--voucher", "PZ-9"], 1, "exceeds"),
    ("voucher reused", [*PAY, "--amount", "1", "--voucher", "PZ-1"], 1, "PZ-1"),
    ("unknown platform", ["platform", "accept", "NOPE-1", "--doc-no", "d"], 1, "unknown platform"),
    ("unknown unit", ["unit", "blacklist", STRANGER, "--doc-no", "d", "--reason", "r"], 1,
     "unknown unit"),
    ("already exists", ["unit", "register", BIO, "--name", "x", "--type", "enterprise"], 1,
     "already"),
    ("debarred host", [*PROPOSE, "--host", ZHIZAO], 1, "003 art. 24"),
    ("reverse unknown", ["funds", "reverse", "LS-KL-001", "--voucher", "X", "--reason", "r"], 1,
     "X"),
    # a well-formed date the rules refuse is a refusal, not bad input (SPEC §3)
    ("backdated change", [*EVALUATE, "--grade", "good", "--on", "2023-02-01"], 1,
     "non-decreasing"),
    ("before the proposal", [*PAY, "--amount", "1", "--voucher", "PZ-9", "--on", "2022-01-01"],
     1, "2022-01-01"),
    ("voucher other case", [*PAY, "--amount", "1", "--voucher", "pz-1"], 1, "pz-1"),
    ("report before the platform", ["platform", "report", "LS-KL-001", "--year", "2020"], 1,
     "proposed in 2023"),
    # exit 2: bad input
    ("short code", [*REGISTER[:2], "91540100MA6T0A0B1", *REGISTER[2:]], 2, "18"),
    ("check char", [*REGISTER[:2], "91540100MA6T0A0B1X", *REGISTER[2:]], 2, "check character"),
    ("letter O", [*REGISTER[:2], "91540100MO6T0A0B1W", *REGISTER[2:]], 2, "'O'"),
    ("amount 3 places", [*PAY, "--amount", "1.234", "--voucher", "PZ-9"], 2, "1.234"),
    ("amount negative", [*PAY, "--amount", "-5", "--voucher", "PZ-9"], 2, "amount"),
    ("amount zero", [*PAY, "--amount", "0", "--voucher", "PZ-9"], 2, "amount"),
    ("amount words", [*PAY, "--amount", "一百", "--voucher", "PZ-9"], 2, "amount"),
    ("amount comma", [*PAY, "--amount", "1,00", "--voucher", "PZ-9"], 2, "amount"),
    ("bad date", [*PAY, "--amount", "1", "--voucher", "PZ-9", "--on", "2026-02-30"], 2, "--on"),
    ("slash date", [*PAY, "--amount", "1", "--voucher", "PZ-9", "--on", "2026/03/01"], 2, "--on"),
    ("future date", [*PAY, "--amount", "1", "--voucher", "PZ-9", "--on", "2026-11-24"], 2,
     "after today"),
    ("bad kind", [*VIOLATION, "--kind", "bad"], 2, "kind"),
    ("bad grade", [*EVALUATE, "--grade", "great"], 2, "grade"),
    ("bad years", [*DEBAR, "--years", "4"], 2, "3 or 5"),
    ("missing option", APPROVE[:3], 2, "--doc-no"),
    ("bad platform code", ["platform", "accept", "bad/code", "--doc-no", "d"], 2,
     "malformed platform code"),
    ("rectify without a result", ["platform", "rectify", "LS-KL-001", "--doc-no", "d"], 2,
     "--passed or --failed"),
    ("rectify both results", ["platform", "rectify", "LS-KL-001", "--passed", "--failed",
     "--doc-no", "d"], 2, "--passed or --failed"),
    ("report year 0", ["platform", "report", "LS-KL-001", "--year", "0"], 2, "--year 0"),
    ("construction years", [*APPROVE, "--construction-years", "100000"], 2,
     "--construction-years"),
    ("amount a trillion", [*PAY, "--amount", "1000000000000", "--voucher", "PZ-9"], 2,
     "more than"),
    ("detail twice", ["change", "request", "LS-KL-001", "--type", "rename", "--detail", "name=a",
     "--detail", "name=b", "--reason", "r"], 2, "given twice"),
    ("a group without its command", ["platform"], 2,
     "missing command: ledger platform COMMAND, one of: accept, approve"),
]
# fmt: on


@pytest.mark.parametrize(
    ("args", "exit_code", "says"),
    [pytest.param(a, c, s, id=name) for name, a, c, s in REFUSALS],
)
def test_a_refusal_is_one_line_on_stderr_with_its_exit_code_and_records_nothing(
    ready: str, args: list[str], exit_code: int, says: str
) -> None:
    before = count(ready)
    r = ledger(ready, *args)
    assert r.exit_code == exit_code, (r.stdout, r.stderr)
    line = one_error_line(r.stderr)
    assert says in line
    assert r.stdout == ""
    assert count(ready) == before


def test_a_refused_request_id_can_be_retried_and_a_replay_records_nothing(ready: str) -> None:
    args = [*PAY, "--voucher", "PZ-7", "--request-id", "bank-batch-7:1"]
    assert ledger(ready, *args, "--amount", "2000000").exit_code == 1
    first = ok_json(ready, *args, "--amount", "2000")
    mark = count(ready)
    again = ok_json(ready, *args, "--amount", "2000")
    assert count(ready) == mark
    assert {k: again[k] for k in ("event", "code", "version")} == {
        k: first[k] for k in ("event", "code", "version")
    }
    r = ledger(ready, *args, "--amount", "2001")
    assert r.exit_code == 1
    assert "bank-batch-7:1" in one_error_line(r.stderr)
    assert count(ready) == mark


# --- the database: unreachable, missing, uninitialised (exit 3) -------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["unit", "register", BIO, "--name", "n", "--type", "enterprise"],
        ["platform", "approve", "LS-KL-001", "--doc-no", "d"],
        ["platform", "show", "LS-KL-001"],
        ["history"],
    ],
)
def test_a_missing_sqlite_file_is_exit_3_and_is_not_created(
    tmp_path: Path, args: list[str]
) -> None:
    path = tmp_path / "nowhere" / "ledger.db"
    path.parent.mkdir()
    r = ledger(f"sqlite:///{path}", *args)
    assert r.exit_code == 3
    assert "not initialised" in one_error_line(r.stderr)
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_an_unreachable_postgresql_is_exit_3() -> None:
    r = ledger(UNREACHABLE_PG, "unit", "register", BIO, "--name", "n", "--type", "enterprise")
    assert r.exit_code == 3
    assert "cannot reach the database" in one_error_line(r.stderr)


def test_an_uninitialised_database_is_exit_3(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        Path(db_url.removeprefix("sqlite:///")).touch()  # an empty file
    r = ledger(db_url, "unit", "register", BIO, "--name", "n", "--type", "enterprise")
    assert r.exit_code == 3
    line = one_error_line(r.stderr)
    assert "not initialised" in line and "ledger init" in line


# --- real processes ------------------------------------------------------------------------


def run_ledger(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "LEDGER_DB": url,
        "LEDGER_TODAY": "2026-11-23",
        "LEDGER_ACTOR": "柜员-张",
        **env,
    }
    return subprocess.run(
        [LEDGER_BIN, *args], capture_output=True, text=True, env=full_env, timeout=60, check=False
    )


def test_a_real_process_records_and_refuses_with_exit_codes(db_url: str) -> None:
    assert run_ledger(db_url, "init").returncode == 0
    p = run_ledger(
        db_url, "unit", "register", BIO, "--name", "拉萨高原生物科技有限公司",
        "--type", "enterprise", "--high-tech", "--format", "json",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["event"] == "Registered"
    p = run_ledger(
        db_url,
        "platform", "propose", "LS-KL-001", "--name", "拉萨高原生物重点实验室",
        "--kind", "key-laboratory", "--level", "city", "--host", BIO, "--on", "2026-01-05",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    p = run_ledger(db_url, "platform", "approve", "LS-KL-001", "--doc-no", "d", "--format", "json")
    assert p.returncode == 0
    assert json.loads(p.stdout)["version"] == 3  # Approved + EntitlementEarned

    mark = count(db_url)
    for args, code_, says in (
        (["platform", "approve", "LS-KL-001", "--doc-no", "d"], 1, "it is operating"),
        (["unit", "register", "123", "--name", "n", "--type", "enterprise"], 2, "18"),
        (
            ["platform", "accept", "LS-KL-001", "--doc-no", "d", "--on", "2026-11-24"],
            2,
            "after today",
        ),
    ):
        p = run_ledger(db_url, *args)
        assert p.returncode == code_, p.stderr
        assert says in one_error_line(p.stderr)
        assert p.stdout == ""
    assert count(db_url) == mark


def test_a_real_process_against_a_missing_or_unreachable_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    for url in (f"sqlite:///{missing}", UNREACHABLE_PG):
        p = run_ledger(url, "unit", "register", BIO, "--name", "n", "--type", "enterprise")
        assert p.returncode == 3
        one_error_line(p.stderr)
        p = run_ledger(url, "platform", "show", "LS-KL-001")
        assert p.returncode == 3
        one_error_line(p.stderr)
    assert not missing.exists()


def test_six_processes_paying_the_same_platform_at_once_all_succeed_quietly(db_url: str) -> None:
    # given a funded platform
    init_ledger(db_url)
    svc = LedgerService(db_url)
    register_all(svc)
    svc.propose(
        "LS-KL-001", name="n", kind="key-laboratory", level="city", host=BIO, co_builders=[],
        actor="setup", on=date(2026, 1, 5),
    )  # fmt: skip
    svc.approve("LS-KL-001", doc_no="d", actor="setup", on=date(2026, 1, 6))
    svc.allocate(
        "LS-KL-001", category="operation", amount=Decimal("1000"), fiscal_year=2026,
        doc_no="d", actor="setup", on=date(2026, 1, 7),
    )  # fmt: skip
    svc.close()
    env = {**os.environ, "LEDGER_DB": db_url, "LEDGER_TODAY": "2026-11-23"}
    # when two clerks' processes pay at the same moment
    procs = [
        subprocess.Popen(
            [
                LEDGER_BIN,
                "funds",
                "disburse",
                "LS-KL-001",
                "--category",
                "operation",
                "--amount",
                "100",
                "--fiscal-year",
                "2026",
                "--voucher",
                f"PZ-{n}",
                "--actor",
                f"clerk-{n}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    # then all are recorded (some retried, quietly), nothing lost, nothing overspent
    assert [p.returncode for p in procs] == [0] * 6, results
    assert [err for _, err in results] == [""] * 6  # retries are not stderr chatter
    svc = LedgerService(db_url)
    line = svc.platform("LS-KL-001").line("operation", 2026)
    assert line is not None and line.disbursed == Decimal("600.00")
    assert set(svc.platform("LS-KL-001").payments) == {f"PZ-{n}" for n in range(6)}
    svc.close()
