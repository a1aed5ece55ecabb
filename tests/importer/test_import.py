"""`ledger import` at the application level, on SQLite and PostgreSQL: JSON
Lines through the same service calls as the CLI (the demo written as JSON
Lines records exactly the demo's events), batches all or nothing, request ids,
dry runs, a refused line undone on the cached aggregates, register sheets
(XLSX and CSV, Chinese and English headers)."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from aggregates.errors import Conflict, InvalidInput, LedgerError, RuleViolation
from aggregates.meta import Meta
from ledger.demo import load_demo
from ledger.importer.batch import BatchService
from ledger.importer.capture import CapturingService
from ledger.importer.jsonl import read_jsonl
from ledger.importer.lines import Line
from ledger.importer.run import ImportReport, import_lines
from ledger.importer.sheets import read_csv, read_xlsx
from ledger.service import LedgerService
from ledger.store import db
from tests.scenario import BIO, JINGTU, TIBET_U, code, event_count, init_ledger

ACTOR = "导入员"


def stored_events(url: str) -> list[tuple[str, int, str, dict[str, Any]]]:
    """Every stored event, without the moment it was recorded."""
    svc = LedgerService(url)
    try:
        out = []
        for n in svc.app.recorder.select_notifications(1, 1_000_000):
            state = json.loads(n.state)
            state.pop("timestamp", None)
            out.append((str(n.originator_id), n.originator_version, n.topic, state))
        return out
    finally:
        svc.close()


def request_rows(url: str) -> int:
    with db.connect(db.parse_db_url(url)) as conn:
        row = db.fetchone(conn, "SELECT count(*) AS n FROM request_log")
    return int(row["n"]) if row else 0


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo, recorded on a SQLite ledger and written as JSON Lines."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LEDGER_TODAY", "2026-11-23")
    try:
        where = tmp_path_factory.mktemp("demo")
        url = f"sqlite:///{where / 'demo.db'}"
        init_ledger(url)
        out = io.StringIO()
        svc = LedgerService(url)
        try:
            load_demo(CapturingService(svc, out))  # type: ignore[arg-type]
        finally:
            svc.close()
        path = where / "demo.jsonl"
        path.write_text(out.getvalue(), encoding="utf-8")
        return path, url
    finally:
        mp.undo()


def run(url: str, path: Path, **kw: Any) -> ImportReport:
    kw.setdefault("actor", ACTOR)
    return import_lines(url, read_jsonl(path), source=path.name, **kw)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_demo_as_json_lines_records_exactly_the_demos_events(
    db_url: str, demo_file: tuple[Path, str]
) -> None:
    path, demo_url = demo_file
    init_ledger(db_url)
    report = run(db_url, path, batch_size=16)
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert report.ok and report.lines == lines and report.recorded == lines
    assert report.batches == -(-lines // 16)
    assert stored_events(db_url) == stored_events(demo_url)
    assert report.events == len(stored_events(db_url))
    assert report.caught_up

    again = run(db_url, path, batch_size=16)
    assert again.ok and again.recorded == 0 and again.replayed == lines and again.events == 0
    assert stored_events(db_url) == stored_events(demo_url)


def test_a_bad_line_in_batch_two_records_nothing_of_its_batch_nor_after_it(
    db_url: str, demo_file: tuple[Path, str], tmp_path: Path
) -> None:
    path, demo_url = demo_file
    lines = path.read_text(encoding="utf-8").splitlines()
    # the first line of batch 2 (lines 11-20) that names an existing platform (not a
    # proposal): its platform made unknown
    at = next(
        i
        for i in range(10, 20)
        if json.loads(lines[i])["command"].split()[0] in ("platform", "funds")
        and json.loads(lines[i])["command"] != "platform propose"
    )
    good = json.loads(lines[at])
    broken = dict(good, args={**good["args"], "code": "LS-NONE-404"})
    bad_file = write_lines(
        tmp_path / "bad.jsonl", [*lines[:at], json.dumps(broken), *lines[at + 1 :]]
    )
    init_ledger(db_url)

    report = run(db_url, bad_file, batch_size=10)
    # the line, and the lines of its batch that needed it, reported by number
    assert (report.bad[0].number, report.bad[0].where) == (at + 1, f"line {at + 1}")
    assert all(11 <= b.number <= 20 for b in report.bad)
    assert isinstance(report.bad[0].error, LedgerError)
    assert "LS-NONE-404" in report.bad[0].message
    assert report.refused == (2, "line 11", "line 20")
    assert report.recorded == 10 and report.batches == 1

    # exactly the first batch is recorded: what lines 1-10 record on their own
    first = write_lines(tmp_path / "first.jsonl", lines[:10])
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    init_ledger(clean_url)
    assert run(clean_url, first).ok
    assert stored_events(db_url) == stored_events(clean_url)
    assert request_rows(db_url) == 10

    # fixed and run again: the recorded batch is skipped, the rest recorded once
    again = run(db_url, path, batch_size=10)
    assert again.ok and again.replayed == 10 and again.recorded == len(lines) - 10
    assert stored_events(db_url) == stored_events(demo_url)


def test_a_dry_run_records_nothing_and_reports_every_bad_line(
    db_url: str, demo_file: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = demo_file
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = '{"command": "unit register", "args": {"code": "not-a-code"'
    lines[40] = json.dumps({"command": "funds dispurse", "args": {}})
    bad_file = write_lines(tmp_path / "bad.jsonl", lines)
    init_ledger(db_url)

    report = run(db_url, bad_file, batch_size=10, dry_run=True)
    numbers = [b.number for b in report.bad]
    assert numbers[0] == 3 and 41 in numbers
    assert "not valid JSON" in report.bad[0].message
    assert "did you mean 'funds disburse'" in report.bad[numbers.index(41)].message
    assert report.recorded > 0 and report.events > 0
    assert event_count_of(db_url) == 0 and request_rows(db_url) == 0

    clean = run(db_url, path, batch_size=10, dry_run=True)
    assert clean.ok and clean.recorded == len(lines)
    assert event_count_of(db_url) == 0 and request_rows(db_url) == 0


def event_count_of(url: str) -> int:
    svc = LedgerService(url)
    try:
        return event_count(svc)
    finally:
        svc.close()


UNIT_LINE = {
    "command": "unit register",
    "args": {"code": BIO, "--name": "拉萨高原生物科技有限公司", "type": "enterprise"},
}


def test_request_ids_given_on_a_line_replay_and_refuse_other_arguments(
    db_url: str, tmp_path: Path
) -> None:
    init_ledger(db_url)
    first = write_lines(tmp_path / "a.jsonl", [json.dumps(dict(UNIT_LINE, request_id="u-1"))])
    assert run(db_url, first).recorded == 1
    assert run(db_url, first).replayed == 1
    other = dict(UNIT_LINE, args={**UNIT_LINE["args"], "--name": "别的名称"}, request_id="u-1")
    report = run(db_url, write_lines(tmp_path / "b.jsonl", [json.dumps(other)]))
    assert len(report.bad) == 1 and isinstance(report.bad[0].error, Conflict)
    assert event_count_of(db_url) == 1

    # a line without an id, imported again by another clerk: refused, not recorded twice
    plain = write_lines(
        tmp_path / "d.jsonl",
        [json.dumps(dict(UNIT_LINE, args={**UNIT_LINE["args"], "code": JINGTU}))],
    )
    assert run(db_url, plain).recorded == 1
    report = run(db_url, plain, actor="另一位导入员")
    assert "already imported with other arguments or by another actor" in report.bad[0].message
    assert event_count_of(db_url) == 2

    # the same id twice in one file with other arguments: the second line is refused
    twice = write_lines(
        tmp_path / "c.jsonl",
        [
            json.dumps(
                dict(UNIT_LINE, args={**UNIT_LINE["args"], "code": TIBET_U}, request_id="x")
            ),
            json.dumps(dict(UNIT_LINE, request_id="x")),
        ],
    )
    report = run(db_url, twice)
    assert [b.number for b in report.bad] == [2] and event_count_of(db_url) == 2


def test_option_spellings_and_bad_arguments(db_url: str, tmp_path: Path) -> None:
    init_ledger(db_url)
    lines = [
        json.dumps(UNIT_LINE),
        json.dumps(
            {
                "command": "ledger platform propose",
                "args": {
                    "CODE": "LS-KL-001",
                    "name": "拉萨高原生物重点实验室",
                    "kind": "key-laboratory",
                    "level": "city",
                    "host": BIO.lower(),
                    "on": "2023-01-10",
                },
            }
        ),
        json.dumps(
            {
                "command": "platform approve",
                "args": {"code": "LS-KL-001", "--doc-no": "拉科发〔2023〕5号", "on": "2023-03-01"},
            }
        ),
        # a JSON number is read as an exact decimal, never a float
        '{"command": "funds allocate", "args": {"code": "LS-KL-001", "category": "operation", '
        '"amount": 1000000.10, "fiscal_year": 2026, "doc_no": "拉财教〔2026〕1号", '
        '"on": "2026-01-15"}}',
    ]
    report = run(db_url, write_lines(tmp_path / "ok.jsonl", lines))
    assert report.ok, [b.message for b in report.bad]
    svc = LedgerService(db_url)
    try:
        line = svc.platform("LS-KL-001").line("operation", 2026)
        assert line is not None and line.allocated == Decimal("1000000.10")
    finally:
        svc.close()

    bad_lines = [
        {"command": "funds disburse", "args": {"code": "LS-KL-001", "colour": "red"}},
        {"command": "funds allocate", "args": {"code": "LS-KL-001", "category": "operation"}},
        {
            "command": "unit debar",
            "args": {
                "code": BIO,
                "years": 4,
                "from": "2026-01-01",
                "scope": "project-application",
                "doc-no": "d",
                "reason": "r",
            },
        },
        {"command": "platform rectify", "args": {"code": "LS-KL-001", "doc-no": "d"}},
        {"command": "platform report", "args": {"code": "LS-KL-001", "year": "二〇二五"}},
        {"command": "unit register", "extra": 1},
    ]
    report = run(
        db_url,
        write_lines(tmp_path / "bad.jsonl", [json.dumps(b) for b in bad_lines]),
        dry_run=True,
    )
    assert [b.number for b in report.bad] == [1, 2, 3, 4, 5, 6]
    assert all(isinstance(b.error, InvalidInput) for b in report.bad)
    messages = [b.message for b in report.bad]
    assert "unknown option 'colour'" in messages[0]
    assert "missing option --amount" in messages[1]
    assert "3 or 5 years" in messages[2]
    assert "passed or failed" in messages[3]


def test_later_lines_see_earlier_ones_and_a_refused_line_leaves_no_trace(
    db_url: str, tmp_path: Path
) -> None:
    init_ledger(db_url)
    code_ = "LS-KL-009"
    lines = [
        UNIT_LINE,
        {
            "command": "platform propose",
            "args": {
                "code": code_,
                "name": "实验室",
                "kind": "key-laboratory",
                "level": "city",
                "host": BIO,
                "on": "2024-01-10",
            },
        },
        {
            "command": "platform approve",
            "args": {"code": code_, "doc-no": "批", "on": "2024-02-01"},
        },
        {
            "command": "funds allocate",
            "args": {
                "code": code_,
                "category": "operation",
                "amount": "1000",
                "fiscal-year": 2026,
                "doc-no": "下",
                "on": "2026-01-05",
            },
        },
        *[
            {
                "command": "funds disburse",
                "args": {
                    "code": code_,
                    "category": "operation",
                    "amount": amount,
                    "fiscal-year": 2026,
                    "voucher": voucher,
                    "on": "2026-02-01",
                },
            }
            for amount, voucher in (("800", "V1"), ("300", "V2"), ("200", "V3"), ("1", "V1"))
        ],
    ]
    path = write_lines(tmp_path / "a.jsonl", [json.dumps(x) for x in lines])
    dry = run(db_url, path, dry_run=True)
    # 300 is over what remains (200); then 200 fits exactly; V1 is taken by line 5
    assert [b.number for b in dry.bad] == [6, 8]
    assert isinstance(dry.bad[0].error, RuleViolation)
    real = run(db_url, path)
    assert real.refused == (1, "line 1", "line 8") and event_count_of(db_url) == 0


def test_a_refused_line_is_undone_on_the_cached_aggregates(db_url: str) -> None:
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        svc.register_unit(
            BIO,
            name="拉萨高原生物科技有限公司",
            unit_type="enterprise",
            high_tech=True,
            aliases=[],
            actor=ACTOR,
            on=date(2020, 1, 2),
        )
        svc.propose(
            "LS-KL-001",
            name="实验室",
            kind="key-laboratory",
            level="city",
            host=BIO,
            co_builders=[],
            actor=ACTOR,
            on=date(2023, 1, 10),
        )
        svc.approve("LS-KL-001", doc_no="批", actor=ACTOR, on=date(2023, 3, 1))
    finally:
        svc.close()
    batch = BatchService(db_url)
    try:
        batch.begin_line()
        plat = batch.platform("LS-KL-001")
        version = plat.version
        meta = Meta(actor=ACTOR, effective_on=date(2026, 1, 5), doc_no="下")
        # the line changes the platform, then fails
        plat.allocate(
            "operation",
            2026,
            Decimal("1000"),
            meta,
            entitlement_key=None,
            entitlement_categories=(),
            double_benefit_basis=None,
        )
        assert plat.version == version + 1
        batch.rollback_line(0, 0)
        batch.begin_line()
        again = batch.platform("LS-KL-001")
        assert again.version == version and not again.pending_events
        assert again.line("operation", 2026) is None
    finally:
        batch.close()


# --- register sheets -------------------------------------------------------------------------


def _sheet(wb: Workbook, title: str, rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(title)
    for r in rows:
        ws.append(r)


def test_an_xlsx_register_with_chinese_headers(db_url: str, tmp_path: Path) -> None:
    init_ledger(db_url)
    wb = Workbook()
    wb.remove(wb.active)
    # in the workbook's order payments come first; they are read after the platforms
    _sheet(
        wb,
        "拨付",
        [
            ["序号", "平台编号", "经费类别", "金额（元）", "年度", "凭证号", "拨付日期"],
            [1, "LS-KL-001", "运行费", 200000, 2026, "PZ2026-0001", date(2026, 2, 1)],
            [2, "LS-KL-001", "operation", "100,000.50", "2026年", "PZ2026-0002", "2026/3/1"],
        ],
    )
    _sheet(
        wb,
        "单位",
        [
            ["2026年单位名录"],
            ["统一社会信用代码", "单位名称", "单位类型", "高新技术企业", "别名"],
            [BIO, "拉萨高原生物科技有限公司", "企业", "是", "高原生物、高原生物科技"],
            [TIBET_U, "西藏大学", "高校", "否", None],
            [None, None, None, None, None],
        ],
    )
    _sheet(
        wb,
        "平台名录",
        [
            [
                "平台编号",
                "平台名称",
                "平台类型",
                "级别",
                "依托单位",
                "共建单位",
                "申报日期",
                "批准文号",
                "批准日期",
            ],
            [
                "LS-KL-001",
                "拉萨高原生物重点实验室",
                "重点实验室",
                "市级",
                BIO,
                TIBET_U,
                date(2023, 1, 10),
                "拉科发〔2023〕5号",
                date(2023, 3, 1),
            ],
            [
                "LS-KL-002",
                "拉萨第二重点实验室",
                "key-laboratory",
                "city",
                TIBET_U,
                None,
                date(2024, 5, 1),
                None,
                None,
            ],
        ],
    )
    _sheet(
        wb,
        "经费下达",
        [
            ["平台编号", "经费类别", "金额", "预算年度", "下达文号", "下达日期"],
            ["LS-KL-001", "运行费", 500000, 2026, "拉财教〔2026〕1号", date(2026, 1, 15)],
        ],
    )
    _sheet(
        wb,
        "禁入",
        [
            ["统一社会信用代码", "禁入年限", "起始日期", "禁入范围", "文号", "事由", "依据"],
            [
                code("zhizao"),
                3,
                date(2025, 8, 1),
                "申报科技计划项目",
                "拉科监〔2025〕1号",
                "项目结题材料不实",
                "003 art. 25",
            ],
        ],
    )
    path = tmp_path / "register.xlsx"
    wb.save(path)
    # 9 lines (a platform row with 批准文号 is propose + approve); the debarment, the
    # last, is of a unit not registered: its batch is refused, the one before recorded
    first = import_lines(db_url, read_xlsx(path), source=path.name, actor=ACTOR, batch_size=8)
    assert first.lines == 9 and first.refused == (2, "禁入 row 2", "禁入 row 2")
    assert first.bad[0].where == "禁入 row 2" and "unknown unit" in first.bad[0].message
    assert first.recorded == 8 and event_count_of(db_url) > 0

    svc = LedgerService(db_url)
    try:
        svc.register_unit(
            code("zhizao"),
            name="拉萨智造装备有限公司",
            unit_type="enterprise",
            high_tech=False,
            aliases=[],
            actor=ACTOR,
            on=date(2020, 1, 2),
        )
    finally:
        svc.close()
    report = import_lines(db_url, read_xlsx(path), source=path.name, actor=ACTOR)
    assert report.ok, [(b.where, b.message) for b in report.bad]

    svc = LedgerService(db_url)
    try:
        bio = svc.unit(BIO)
        assert bio.high_tech and bio.unit_type == "enterprise"
        assert sorted(bio.aliases) == ["高原生物", "高原生物科技"]
        assert not svc.unit(TIBET_U).high_tech
        kl1, kl2 = svc.platform("LS-KL-001"), svc.platform("LS-KL-002")
        assert kl1.status == "operating" and kl1.co_builders == [TIBET_U]
        assert kl2.status == "proposed"
        line = kl1.line("operation", 2026)
        assert line is not None and line.allocated == Decimal("500000")
        assert line.disbursed == Decimal("300000.50")
        assert [d.scopes for d in svc.unit(code("zhizao")).debarments.values()] == [
            ["project-application"]
        ]
    finally:
        svc.close()


def test_csv_registers_in_gbk_and_english_and_their_errors(db_url: str, tmp_path: Path) -> None:
    init_ledger(db_url)
    units = tmp_path / "单位名录.csv"
    units.write_bytes(
        "统一社会信用代码,单位名称,单位类型,高新技术企业\n"
        f"{BIO},拉萨高原生物科技有限公司,企业,是\n".encode("gb18030")
    )
    report = import_lines(db_url, read_csv(units), source=units.name, actor=ACTOR)
    assert report.ok and report.recorded == 1

    english = tmp_path / "register.csv"
    english.write_text(
        f"code,name,type,high_tech\n{TIBET_U},西藏大学,university,no\n", encoding="utf-8"
    )
    with pytest.raises(InvalidInput, match="--kind"):
        list(read_csv(english))
    report = import_lines(db_url, read_csv(english, "units"), source=english.name, actor=ACTOR)
    assert report.ok and event_count_of(db_url) == 2

    def bad_of(text: str, kind: str) -> list[Line]:
        f = tmp_path / "x.csv"
        f.write_text(text, encoding="utf-8")
        return [line for line in read_csv(f, kind) if line.error is not None]

    missing = bad_of("平台编号,经费类别,金额\nLS-KL-001,运行费,100\n", "payments")
    assert "missing column(s)" in str(missing[0].error) and "凭证号" in str(missing[0].error)
    wan = bad_of(
        "平台编号,经费类别,金额（万元）,年度,凭证号\nLS-KL-001,运行费,10,2026,V\n", "payments"
    )
    assert "万元" in str(wan[0].error)
    kind = bad_of("平台编号,平台名称,平台类型,级别,依托单位\nLS-X-1,名,工厂,市级,U\n", "platforms")
    assert kind[0].where == "x.csv row 2" and "platform kind" in str(kind[0].error)


def test_a_batch_that_meets_another_writer_is_judged_again_on_the_fresh_state(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.importer.batch as batch_module

    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        svc.register_unit(
            BIO,
            name="拉萨高原生物科技有限公司",
            unit_type="enterprise",
            high_tech=True,
            aliases=[],
            actor=ACTOR,
            on=date(2020, 1, 2),
        )
        svc.propose(
            "LS-KL-001",
            name="实验室",
            kind="key-laboratory",
            level="city",
            host=BIO,
            co_builders=[],
            actor=ACTOR,
            on=date(2023, 1, 10),
        )
        svc.approve("LS-KL-001", doc_no="批", actor=ACTOR, on=date(2023, 3, 1))
        svc.allocate(
            "LS-KL-001",
            category="operation",
            amount=Decimal("1000"),
            fiscal_year=2026,
            doc_no="下",
            actor=ACTOR,
            on=date(2026, 1, 5),
        )
    finally:
        svc.close()
    payments = [
        {"command": "funds disburse", "args": {"code": "LS-KL-001", "category": "operation",
                                               "amount": "400", "fiscal-year": 2026,
                                               "voucher": v, "on": "2026-02-01"}}
        for v in ("V1", "V2")
    ]  # fmt: skip
    path = write_lines(tmp_path / "p.jsonl", [json.dumps(p) for p in payments])

    real = batch_module.save_batch_or_conflict
    saves: list[int] = []

    def racing(*args: Any) -> Any:
        if not saves:  # another clerk pays 300 between the batch's checks and its save
            other = LedgerService(db_url)
            try:
                other.disburse(
                    "LS-KL-001",
                    category="operation",
                    amount=Decimal("300"),
                    fiscal_year=2026,
                    voucher="V9",
                    actor="另一位",
                    on=date(2026, 2, 1),
                )
            finally:
                other.close()
        saves.append(len(args[1]))
        return real(*args)

    monkeypatch.setattr(batch_module, "save_batch_or_conflict", racing)
    report = run(db_url, path)
    # the first save met the other write; judged again, 400 + 300 + 400 exceeds 1000
    assert saves == [4]
    assert [b.number for b in report.bad] == [2] and "exceeds" in report.bad[0].message
    svc = LedgerService(db_url)
    try:
        line = svc.platform("LS-KL-001").line("operation", 2026)
        assert line is not None and line.disbursed == Decimal("300")  # only the other clerk's
    finally:
        svc.close()
