"""Programme-exact rules (issue 11, SPEC §2.1): every rule, consequence, ban and
deadline belongs to the programme whose document states it.

Acceptance tests through the CLI, on both backends, for the issue's examples
and the gaps listed in docs/RULES-GAPS.md (G1…G21). Each cites the article it
rests on. They fail against the current code; the whole module is marked
``xfail(strict=True)`` so the suite stays green, and the lead removes the mark
when implementing.

Issue 11 is implemented: no test here is xfail. Two were adjusted to the
readings implemented alongside them (see each test's comment): known-at is
asked at a moment the unit was already recorded, and the consortium's term end
(G16) is the one row `compliance overdue` lists for it.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from cli import main
from tests.conftest import TODAY, _pg_admin
from tests.scenario import credit_code

# --- units -------------------------------------------------------------------------------
# Lhasa-registered (division 5401…), Tibet-region, Xinjiang (65…) and Keqiao units.
LS_BIO = credit_code("91540100MA6T0A0B1")  # enterprise, high-tech
LS_JINGTU = credit_code("91540100MA6T0A0C2")  # enterprise, high-tech
LS_ZHIZAO = credit_code("91540100MA6T0A0D3")  # enterprise
LS_GAOYUAN = credit_code("91540100MA6T0A0E4")  # enterprise
TIBET_U = credit_code("12540000MB0000000")  # university (Tibet region)
LS_COLLEGE = credit_code("12540100MB0000024")  # university (Lhasa)
LS_HOSP = credit_code("12540100MB0000021")  # hospital (city)
LS_HOSP2 = credit_code("12540100MB0000022")  # hospital
LS_HOSP3 = credit_code("12540100MB0000023")  # hospital
XJ_TIANSHAN = credit_code("91650100MA7700001")  # enterprise, high-tech
XJ_ROBOT = credit_code("91650100MA7700002")  # enterprise
XJ_AUTO = credit_code("91650100MA7700003")  # enterprise
XJ_SOFT = credit_code("91650100MA7700004")  # enterprise
XJ_ENERGY = credit_code("91650100MA7700005")  # enterprise
XJ_CHEM = credit_code("91650100MA7700006")  # enterprise
XJ_U = credit_code("12650000MB0000001")  # university
XJ_INST = credit_code("12650000MB0000012")  # institute
KQ_TEX = credit_code("91330621MA2B00001")  # enterprise, high-tech
ZSTU = credit_code("12330000MB0000001")  # university

# code: (name, type, high-tech)
UNITS: dict[str, tuple[str, str, bool]] = {
    LS_BIO: ("拉萨高原生物科技有限公司", "enterprise", True),
    LS_JINGTU: ("西藏净土农业科技有限公司", "enterprise", True),
    LS_ZHIZAO: ("拉萨智造装备有限公司", "enterprise", False),
    LS_GAOYUAN: ("拉萨高原装配式建筑有限公司", "enterprise", False),
    TIBET_U: ("西藏大学", "university", False),
    LS_COLLEGE: ("拉萨师范高等专科学校", "university", False),
    LS_HOSP: ("拉萨市人民医院", "hospital", False),
    LS_HOSP2: ("拉萨市城关区人民医院", "hospital", False),
    LS_HOSP3: ("堆龙德庆区人民医院", "hospital", False),
    XJ_TIANSHAN: ("新疆天山新材料股份有限公司", "enterprise", True),
    XJ_ROBOT: ("新疆丝路智能装备有限公司", "enterprise", False),
    XJ_AUTO: ("乌鲁木齐数控机床有限公司", "enterprise", False),
    XJ_SOFT: ("新疆昆仑软件有限公司", "enterprise", False),
    XJ_ENERGY: ("新疆准噶尔能源有限公司", "enterprise", False),
    XJ_CHEM: ("新疆塔里木化工有限公司", "enterprise", False),
    XJ_U: ("新疆大学", "university", False),
    XJ_INST: ("新疆能源研究院", "institute", False),
    KQ_TEX: ("绍兴柯桥纺织科技有限公司", "enterprise", True),
    ZSTU: ("浙江理工大学", "university", False),
}


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """The CLI configures structlog on the runner's stderr; undo it afterwards."""
    yield
    structlog.reset_defaults()


def ledger(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, *args])


def ok(url: str, *args: str) -> dict[str, Any]:
    """A recording command with --format json that must succeed."""
    r = ledger(url, *args, "--format", "json")
    assert r.exit_code == 0, f"{args}: exit {r.exit_code}: {r.stderr}"
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def query(url: str, *args: str) -> Any:
    r = ledger(url, *args, "--format", "json")
    assert r.exit_code == 0, f"{args}: exit {r.exit_code}: {r.stderr}"
    return json.loads(r.stdout)


def refused(url: str, *args: str) -> str:
    """A command refused by a rule: exit 1, one line on stderr; returns it."""
    r = ledger(url, *args)
    assert r.exit_code == 1, f"{args}: expected a refusal (exit 1), got {r.exit_code}: {r.stdout}"
    assert "Traceback" not in r.stderr
    return r.stderr.strip()


def recorded(data: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["event"], e.get("basis")) for e in data.get("recorded", [])]


def _initialise(db_url: str) -> None:
    r = ledger(db_url, "init")
    assert r.exit_code == 0, r.stderr
    for c, (name, unit_type, high_tech) in UNITS.items():
        args = ["unit", "register", c, "--name", name, "--type", unit_type, "--on", "2020-01-02"]
        if high_tech:
            args.append("--high-tech")
        ok(db_url, *args)


@pytest.fixture(scope="module")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One initialised ledger with the units, recorded once; each test copies it
    (the suite stays fast: 20 CLI round trips once, not per test)."""
    path = tmp_path_factory.mktemp("programme-rules") / "template.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEDGER_TODAY", TODAY)
        mp.setenv("LEDGER_ACTOR", "test-clerk")
        _initialise(f"sqlite:///{path}")
    structlog.reset_defaults()
    yield path


@pytest.fixture(scope="module")
def _pg_template(pg_server: str) -> Iterator[str]:
    """The same on PostgreSQL, as a template database (CREATE DATABASE … TEMPLATE)."""
    name = f"ledger_tpl_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LEDGER_TODAY", TODAY)
            mp.setenv("LEDGER_ACTOR", "test-clerk")
            _initialise(f"{pg_server}/{name}")
        structlog.reset_defaults()
        yield name
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Every test runs on SQLite; the examples and the answers read from the
# read models (eligibility, compliance overdue, show) also on PostgreSQL. The
# rules are one code path on both backends; the suite stays fast (docs/RULES.md).
BOTH = pytest.mark.parametrize("url", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An initialised ledger (default policy lhasa-city) with the units above,
    copied from the module's template."""
    if getattr(request, "param", "sqlite") == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "ledger.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    pg: str = request.getfixturevalue("pg_server")
    tpl: str = request.getfixturevalue("_pg_template")
    name = f"ledger_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
    try:
        yield f"{pg}/{name}"
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def propose(url: str, code: str, kind: str, host: str, *co: str, **opt: str) -> dict[str, Any]:
    args = ["platform", "propose", code, "--name", f"{code} 平台", "--kind", kind]
    args += ["--level", opt.get("level", "city"), "--host", host]
    for c in co:
        args += ["--co-builder", c]
    for key in ("policy", "agreement_on"):
        if key in opt:
            args += [f"--{key.replace('_', '-')}", opt[key]]
    args += ["--on", opt.get("on", "2024-01-10")]
    return ok(url, *args)


def approve_args(code: str, on: str, *extra: str) -> list[str]:
    return ["platform", "approve", code, "--doc-no", f"批〔{on[:4]}〕{code}号", "--on", on, *extra]


def xj_centre(url: str, code: str = "XJ-TIC-001", on: str = "2021-03-01") -> None:
    """An operating Xinjiang technology innovation centre, enterprise-led."""
    propose(url, code, "tech-innovation-center", XJ_TIANSHAN, XJ_ROBOT, policy="xinjiang-tic",
            level="regional", on="2021-01-10")  # fmt: skip
    ok(url, *approve_args(code, on))


def xj_consortium(url: str, code: str, lead: str, on: str, term: str = "3") -> None:
    """An operating Xinjiang consortium: 5 members, 3 enterprises, 1 high-tech."""
    members = [m for m in (XJ_TIANSHAN, XJ_CHEM, XJ_U, XJ_INST) if m != lead]
    if len(members) < 4:
        members.append(XJ_SOFT)
    propose(url, code, "innovation-consortium", lead, *members, policy="xinjiang-consortium",
            level="regional", on=on)  # fmt: skip
    ok(url, *approve_args(code, on, "--term-years", term))


def overdue(url: str, as_of: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = query(url, "compliance", "overdue", "--as-of", as_of)
    return rows


# --- G1: composition rules belong to their programme ------------------------------------------


@BOTH
def test_a_lhasa_centre_is_not_judged_by_001_3_3(url: str) -> None:
    """SPEC §2.1: "a Lhasa technology innovation centre is judged by 003 and its
    annex, never by Xinjiang's 001 §3.3" (须与区内2家以上企业联合共建 is 001's)."""
    propose(url, "LS-TIC-001", "tech-innovation-center", LS_COLLEGE, LS_BIO, on="2025-01-10")
    data = ok(url, *approve_args("LS-TIC-001", "2025-03-01"))
    assert data["event"] == "Approved"
    assert all("001" not in (b or "") for _, b in recorded(data))


# --- G2: consequences only where the programme's document names them ---------------------------


@BOTH
def test_false_materials_on_a_xinjiang_centre_brings_no_lhasa_consequence(url: str) -> None:
    """001 §5.5: 发现弄虚作假、违反科研诚信情况的按有关规定处理 — no consequence is
    named: the finding is recorded with a warning; 003 art. 25 does not apply."""
    xj_centre(url)
    data = ok(url, "unit", "violation", XJ_TIANSHAN, "--kind", "false-materials",
              "--occurred-on", "2025-05-01", "--on", "2025-06-01",
              "--doc-no", "新科监〔2025〕1号", "--platform", "XJ-TIC-001")  # fmt: skip
    assert not {"Debarred", "Delisted", "Blacklisted"} & {e for e, _ in recorded(data)}, data
    assert not any("003" in (b or "") for _, b in recorded(data))
    assert any("001 §5.5" in w for w in data.get("warnings", [])), data
    show = query(url, "platform", "show", "XJ-TIC-001")
    assert show["status"] == "operating"
    unit = query(url, "unit", "show", XJ_TIANSHAN)
    assert unit["debarments"] == []


@BOTH
def test_false_materials_on_a_keqiao_platform_brings_no_lhasa_consequence(url: str) -> None:
    """004 has no integrity clause at all (SPEC §2.1: a finding on a Keqiao
    platform never brings Lhasa's 003 art. 25 consequences)."""
    propose(url, "KQ-001", "co-built-platform", KQ_TEX, ZSTU, policy="keqiao-co-built",
            level="district", agreement_on="2025-01-05", on="2025-01-20")  # fmt: skip
    ok(url, *approve_args("KQ-001", "2025-02-01", "--term-years", "5"))
    data = ok(url, "unit", "violation", KQ_TEX, "--kind", "false-materials",
              "--occurred-on", "2025-05-01", "--on", "2025-06-01",
              "--doc-no", "柯科监〔2025〕1号", "--platform", "KQ-001")  # fmt: skip
    assert [e for e, _ in recorded(data)] == ["ViolationRecorded"]
    assert any("004" in w for w in data.get("warnings", [])), data
    assert query(url, "platform", "show", "KQ-001")["status"] == "operating"


def test_a_finding_on_a_high_energy_platform_brings_no_borrowed_consequence(url: str) -> None:
    """000 has no integrity clause (000 art. 1–27): academic misconduct on a
    high-energy platform is recorded, with a warning, and nothing else."""
    propose(url, "XJ-HE-001", "high-energy-platform", XJ_AUTO, policy="xinjiang-high-energy",
            level="regional", on="2022-01-10")  # fmt: skip
    ok(url, *approve_args("XJ-HE-001", "2022-03-01", "--construction-years", "2"))
    data = ok(url, "unit", "violation", XJ_AUTO, "--kind", "academic-misconduct",
              "--occurred-on", "2023-05-01", "--on", "2023-06-01",
              "--doc-no", "新科监〔2023〕3号", "--platform", "XJ-HE-001")  # fmt: skip
    assert [e for e, _ in recorded(data)] == ["ViolationRecorded"]
    assert any("000" in w for w in data.get("warnings", [])), data


def test_illegal_conduct_on_a_lhasa_platform_is_not_judged_by_002(url: str) -> None:
    """002 §5.2 (所有单位涉及违法违规的……列入诚信黑名单) is the consortium
    programme's; 003 art. 25 names no consequence for 违法违规."""
    propose(url, "LS-KL-001", "key-laboratory", LS_BIO, on="2023-01-10")
    ok(url, *approve_args("LS-KL-001", "2023-03-01"))
    data = ok(url, "unit", "violation", LS_BIO, "--kind", "illegal-conduct",
              "--occurred-on", "2026-01-01", "--on", "2026-02-01",
              "--doc-no", "拉科监〔2026〕1号", "--platform", "LS-KL-001")  # fmt: skip
    assert not any("002" in (b or "") for _, b in recorded(data)), data
    assert query(url, "unit", "show", LS_BIO)["blacklisted"] is False


def test_a_consortium_breach_on_a_lhasa_platform_brings_no_consortium_ban(url: str) -> None:
    """002 §5.2 (未按共建协议履约……三年内不得牵头组建) concerns Xinjiang consortia;
    a finding on a Lhasa key laboratory brings no 002 consequence."""
    propose(url, "LS-KL-001", "key-laboratory", LS_BIO, on="2023-01-10")
    ok(url, *approve_args("LS-KL-001", "2023-03-01"))
    data = ok(url, "unit", "violation", LS_BIO, "--kind", "consortium-breach",
              "--occurred-on", "2026-01-01", "--on", "2026-02-01",
              "--doc-no", "拉科监〔2026〕2号", "--platform", "LS-KL-001")  # fmt: skip
    assert "Debarred" not in [e for e, _ in recorded(data)], data


# --- G3: debarments carry their programme -----------------------------------------------


def _lhasa_art_24_ban(url: str) -> None:
    """LS_JINGTU's key laboratory fails its rectification on 2026-06-01: 003
    art. 24 bars it 3 years from applying for Lhasa city-level platforms."""
    propose(url, "LS-KL-002", "key-laboratory", LS_JINGTU, on="2023-01-10")
    ok(url, *approve_args("LS-KL-002", "2023-03-01"))
    ok(url, "platform", "evaluate", "LS-KL-002", "--cycle", "2023-2025", "--grade", "poor",
       "--doc-no", "拉科发〔2026〕1号", "--on", "2026-01-10")  # fmt: skip
    data = ok(url, "platform", "rectify", "LS-KL-002", "--failed",
              "--doc-no", "拉科发〔2026〕3号", "--on", "2026-06-01")  # fmt: skip
    assert ("Debarred", "003 art. 24") in recorded(data)


@BOTH
def test_a_lhasa_art_24_ban_does_not_refuse_a_xinjiang_proposal(url: str) -> None:
    """003 art. 24: 三年内不得再次申请市级科技创新平台 — a Lhasa city-level ban;
    SPEC §2.1: it bars applications for Lhasa city-level platforms only."""
    _lhasa_art_24_ban(url)
    data = propose(url, "XJ-HE-009", "high-energy-platform", LS_JINGTU,
                   policy="xinjiang-high-energy", level="regional", on="2026-07-01")  # fmt: skip
    assert data["event"] == "Proposed"
    # and it still bars a Lhasa filing
    msg = refused(url, "platform", "propose", "LS-KL-009", "--name", "拉萨青稞重点实验室",
                  "--kind", "key-laboratory", "--level", "city", "--host", LS_JINGTU,
                  "--on", "2026-07-01")  # fmt: skip
    assert "003 art. 24" in msg


@BOTH
def test_eligibility_under_a_programme_counts_only_its_bans(url: str) -> None:
    """SPEC §2.1 / CLI.md `eligibility --under POLICY`: with a programme, only its
    bans, ledger-wide bans and the blacklist count; without, every ban counts and
    each reason names its programme."""
    _lhasa_art_24_ban(url)
    xj = query(url, "eligibility", LS_JINGTU, "--under", "xinjiang-high-energy",
               "--as-of", "2026-07-01")  # fmt: skip
    assert xj["eligible"] is True and xj["reasons"] == []
    ls = query(url, "eligibility", LS_JINGTU, "--under", "lhasa-city", "--as-of", "2026-07-01")
    assert ls["eligible"] is False
    everywhere = query(url, "eligibility", LS_JINGTU, "--as-of", "2026-07-01")
    assert everywhere["eligible"] is False
    assert [r["basis"] for r in everywhere["reasons"]] == ["003 art. 24"]
    assert "lhasa-city" in json.dumps(everywhere["reasons"], ensure_ascii=False)


@BOTH
def test_a_hand_entered_ban_names_its_programme(url: str) -> None:
    """SPEC §2.1 / CLI.md `unit debar … [--policy P]`: under programme P, else
    ledger-wide; a ledger-wide ban counts under every programme."""
    ok(url, "unit", "debar", LS_ZHIZAO, "--years", "3", "--from", "2026-01-01",
       "--scope", "platform-application", "--doc-no", "拉科发〔2026〕9号",
       "--reason", "市级备案资格取消", "--policy", "lhasa-city")  # fmt: skip
    under_xj = query(url, "eligibility", LS_ZHIZAO, "--under", "xinjiang-tic",
                     "--as-of", "2026-06-01")  # fmt: skip
    assert under_xj["eligible"] is True
    ok(url, "unit", "debar", LS_GAOYUAN, "--years", "3", "--from", "2026-01-01",
       "--scope", "platform-application", "--doc-no", "国科发〔2026〕1号",
       "--reason", "全国科研诚信通报")  # fmt: skip
    wide = query(url, "eligibility", LS_GAOYUAN, "--under", "xinjiang-tic", "--as-of", "2026-06-01")
    assert wide["eligible"] is False


@BOTH
def test_eligibility_known_at(url: str) -> None:
    """CLI.md `eligibility … [--known-at T]` (SPEC §8): before the ban was
    recorded, the ledger said eligible."""
    _lhasa_art_24_ban(url)
    # the moment the unit's last event before the ban was recorded: the ledger
    # knew the unit then, and no ban (before the unit was recorded at all, it
    # was an unknown unit)
    events = query(url, "history", "--unit", LS_JINGTU)
    before = [e["recorded_at"] for e in events if e["event"] != "Debarred"]
    assert [e["event"] for e in events][-1] == "Debarred"
    early = query(url, "eligibility", LS_JINGTU, "--as-of", "2026-07-01",
                  "--known-at", before[-1])  # fmt: skip
    assert early["eligible"] is True
    late = query(url, "eligibility", LS_JINGTU, "--as-of", "2026-07-01",
                 "--known-at", events[-1]["recorded_at"])  # fmt: skip
    assert late["eligible"] is False


# --- G4: citations of the governing programme only --------------------------------------


@BOTH
def test_a_xinjiang_refusal_never_cites_003_art_28(url: str) -> None:
    """001 has no 不得重复享受 clause (that is 003 art. 28); SPEC §2.1: citations
    are always to the governing programme's document."""
    xj_centre(url)
    ok(url, "platform", "evaluate", "XJ-TIC-001", "--cycle", "2021-2023", "--grade", "excellent",
       "--doc-no", "新科发〔2024〕2号", "--on", "2024-03-01")  # fmt: skip
    ok(url, "funds", "allocate", "XJ-TIC-001", "--category", "reward", "--amount", "2000000",
       "--fiscal-year", "2024", "--doc-no", "新财〔2024〕1号", "--on", "2024-04-01")  # fmt: skip
    msg = refused(url, "funds", "allocate", "XJ-TIC-001", "--category", "reward",
                  "--amount", "100", "--fiscal-year", "2025",
                  "--doc-no", "新财〔2025〕1号", "--on", "2025-04-01")  # fmt: skip
    assert "003" not in msg, msg


def test_a_suspension_outside_keqiao_does_not_cite_004(url: str) -> None:
    """004 §4.3 (暂停或减少经费资助) is Keqiao's; a suspension on a Lhasa platform
    cites no Keqiao article."""
    propose(url, "LS-KL-001", "key-laboratory", LS_BIO, on="2023-01-10")
    ok(url, *approve_args("LS-KL-001", "2023-03-01"))
    data = ok(url, "funds", "suspend", "LS-KL-001", "--doc-no", "拉财〔2026〕3号",
              "--reason", "审计发现问题", "--on", "2026-03-01")  # fmt: skip
    assert not any("004" in (b or "") for _, b in recorded(data)), data


# --- G5: no rectification on a yearly review (000, 002) ---------------------------------


@BOTH
def test_a_poor_review_under_000_opens_no_rectification(url: str) -> None:
    """000 art. 25: 平台财政资金使用进度及运行成效作为下一年度财政支持资金安排的重要依据 —
    a yearly review, no grades; SPEC §4: it opens no rectification (000 art. 22's
    rectification is for failed acceptance)."""
    propose(url, "XJ-HE-001", "high-energy-platform", XJ_AUTO, policy="xinjiang-high-energy",
            level="regional", on="2022-01-10")  # fmt: skip
    ok(url, *approve_args("XJ-HE-001", "2022-03-01", "--construction-years", "2"))
    ok(url, "platform", "accept", "XJ-HE-001", "--doc-no", "新科发〔2024〕5号",
       "--on", "2024-03-05")  # fmt: skip
    data = ok(url, "platform", "evaluate", "XJ-HE-001", "--cycle", "2025", "--grade", "poor",
              "--doc-no", "新科发〔2026〕1号", "--on", "2026-03-01")  # fmt: skip
    assert ("Evaluated", "000 art. 22") not in recorded(data)
    show = query(url, "platform", "show", "XJ-HE-001")
    assert show["status"] == "operating" and show["rectification_due"] is None


@BOTH
def test_a_poor_review_under_002_opens_no_rectification(url: str) -> None:
    """002 §5.2: 每年对创新联合体进行绩效评价 — no grades, no rectification (SPEC §4)."""
    xj_consortium(url, "XJ-IC-001", XJ_ROBOT, "2024-03-01")
    ok(url, "platform", "evaluate", "XJ-IC-001", "--cycle", "2025", "--grade", "poor",
       "--doc-no", "新科发〔2026〕2号", "--on", "2026-03-01")  # fmt: skip
    show = query(url, "platform", "show", "XJ-IC-001")
    assert show["status"] == "operating" and show["rectification_due"] is None
    # nothing overdue but the end of its 3-year term (2027-03-01, 002 §3.2, G16)
    rows = [r for r in overdue(url, "2027-06-01") if r["platform"] == "XJ-IC-001"]
    assert [(r["issue"], r["basis"]) for r in rows] == [("term-ended", "002 §3.2")]


# --- G7: consortium composition (002) ---------------------------------------------------


def test_a_consortium_is_led_by_an_enterprise(url: str) -> None:
    """002 §2.1.1: 自治区境内注册的具有独立法人资格的企业 (SPEC §4: the lead an enterprise)."""
    propose(url, "XJ-IC-002", "innovation-consortium", XJ_U, XJ_TIANSHAN, XJ_ROBOT, XJ_AUTO,
            XJ_SOFT, policy="xinjiang-consortium", level="regional", on="2024-01-10")  # fmt: skip
    msg = refused(url, *approve_args("XJ-IC-002", "2024-03-01", "--term-years", "3"))
    assert "002 §2.1.1" in msg


def test_a_consortium_lead_is_registered_in_xinjiang(url: str) -> None:
    """002 §2.1.1: 自治区境内注册 — a Lhasa-registered enterprise (division 5401…)
    does not lead a Xinjiang consortium."""
    propose(url, "XJ-IC-003", "innovation-consortium", LS_BIO, XJ_TIANSHAN, XJ_ROBOT, XJ_U,
            XJ_INST, policy="xinjiang-consortium", level="regional", on="2024-01-10")  # fmt: skip
    msg = refused(url, *approve_args("XJ-IC-003", "2024-03-01", "--term-years", "3"))
    assert "002 §2.1.1" in msg


@pytest.mark.parametrize("term", [["--term-years", "2"], []], ids=["two-years", "no-term"])
def test_a_consortium_term_is_3_to_5_years_and_required(url: str, term: list[str]) -> None:
    """002 §3.2: 组建期为3-5年 (SPEC §4: a term of 3–5 years)."""
    propose(url, "XJ-IC-004", "innovation-consortium", XJ_ENERGY, XJ_TIANSHAN, XJ_CHEM, XJ_U,
            XJ_INST, policy="xinjiang-consortium", level="regional", on="2024-01-10")  # fmt: skip
    msg = refused(url, *approve_args("XJ-IC-004", "2024-03-01", *term))
    assert "002 §3.2" in msg


# --- G8: Xinjiang TIC composition (001) ----------------------------------------------


def test_any_xinjiang_centre_has_at_most_5_core_co_builders(url: str) -> None:
    """001 annex 签章页: 核心共建单位意见（不超过5家） — every centre, whoever leads it."""
    propose(url, "XJ-TIC-003", "tech-innovation-center", XJ_AUTO, XJ_ROBOT, XJ_SOFT, XJ_CHEM,
            XJ_U, XJ_INST, XJ_ENERGY, policy="xinjiang-tic", level="regional")  # fmt: skip
    msg = refused(url, *approve_args("XJ-TIC-003", "2024-03-01"))
    assert "001" in msg


def test_a_university_led_xinjiang_centre_needs_2_enterprises_in_the_region(url: str) -> None:
    """001 §3.3 (三、（三）2.): 牵头单位是高校、科研院所、技术机构的，须与区内2家以上企业联合共建 —
    区内: registered in Xinjiang (credit code division 65…); Lhasa enterprises do not count."""
    propose(url, "XJ-TIC-004", "tech-innovation-center", XJ_U, LS_BIO, LS_JINGTU,
            policy="xinjiang-tic", level="regional")  # fmt: skip
    msg = refused(url, *approve_args("XJ-TIC-004", "2024-03-01"))
    assert "001 §3.3" in msg


# --- G9: the Lhasa annex conditions a ledger can know ------------------------------------


def test_a_clinical_research_centre_is_hosted_by_a_hospital(url: str) -> None:
    """003 annex 临床医学研究中心 第三条（一）: 申报的牵头单位必须为市域内三级乙等以上医院."""
    propose(url, "LS-CRC-001", "clinical-research-center", LS_BIO, LS_HOSP, LS_HOSP2, LS_HOSP3)
    msg = refused(url, *approve_args("LS-CRC-001", "2024-03-01"))
    assert "003 annex" in msg


def test_a_clinical_research_centre_needs_its_hospital_network(url: str) -> None:
    """003 annex 临床医学研究中心 第三条（四）: 市级优势医院不少于1家，县区基层医疗机构不少于3家 —
    a hospital host with two hospital co-builders is short of the network."""
    propose(url, "LS-CRC-002", "clinical-research-center", LS_HOSP, LS_HOSP2, LS_HOSP3)
    msg = refused(url, *approve_args("LS-CRC-002", "2024-03-01"))
    assert "003 annex" in msg


def test_a_field_station_is_hosted_by_a_university_institute_or_department(url: str) -> None:
    """003 annex 野外科学观测研究站 第三条（一）: 依托高校、科研院所及行业部门等单位建设."""
    propose(url, "LS-FS-002", "field-station", LS_ZHIZAO, on="2025-06-01")
    msg = refused(url, *approve_args("LS-FS-002", "2025-07-01"))
    assert "003 annex" in msg


def test_a_host_not_registered_in_lhasa_is_approved_with_a_warning(url: str) -> None:
    """003 annex 重点实验室 第三条（一）: 依托单位须为在拉萨市行政区域依法登记注册的独立法人单位 —
    西藏大学 (12540000…) is registered by a region-level authority: the ledger cannot
    tell, so it warns (docs/RULES.md 003-24)."""
    propose(url, "LS-KL-011", "key-laboratory", TIBET_U, on="2025-06-01")
    data = ok(url, *approve_args("LS-KL-011", "2025-07-01"))
    assert any("5401" in w and "003 annex" in w for w in data.get("warnings", [])), data


# --- G10: the look-back as the annex says -------------------------------------------------


def test_the_look_back_spares_field_stations(url: str) -> None:
    """003 annex 野外科学观测研究站 第三条 prints no 申报前2年无失信 condition (SPEC §7:
    not field stations or clinical research centres)."""
    ok(url, "unit", "violation", TIBET_U, "--kind", "false-materials",
       "--occurred-on", "2025-01-01", "--on", "2025-02-01",
       "--doc-no", "拉科监〔2025〕1号", "--no-policy")  # fmt: skip
    data = propose(url, "LS-FS-001", "field-station", TIBET_U, on="2025-06-01")
    assert data["event"] == "Proposed"


def test_the_look_back_counts_only_dishonesty_and_misconduct(url: str) -> None:
    """003 annex: 申报前2年无失信和学术不端行为 — a safety accident is neither
    失信 nor 学术不端 (SPEC §7 lists false-materials, academic-misconduct,
    task-default, illegal-conduct)."""
    ok(url, "unit", "violation", LS_JINGTU, "--kind", "safety-accident",
       "--occurred-on", "2025-01-01", "--on", "2025-02-01",
       "--doc-no", "拉应急〔2025〕1号", "--no-policy")  # fmt: skip
    data = propose(url, "LS-KL-003", "key-laboratory", LS_JINGTU, on="2025-06-01")
    assert data["event"] == "Proposed"


def test_the_look_back_is_checked_again_at_approval(url: str) -> None:
    """003 annex 重点实验室 第三条（九）; SPEC §7: the look-back is checked again at
    approval (a host that fails it on the approval date is not filed, and earns
    no filing support)."""
    propose(url, "LS-KL-004", "key-laboratory", LS_BIO, on="2025-06-01")
    ok(url, "unit", "violation", LS_BIO, "--kind", "academic-misconduct",
       "--occurred-on", "2025-07-01", "--on", "2025-08-01",
       "--doc-no", "拉科监〔2025〕2号", "--no-policy")  # fmt: skip
    msg = refused(url, *approve_args("LS-KL-004", "2025-09-01"))
    assert "003 annex" in msg


# --- G11, G12, G13: entitlements and late entries -----------------------------------------


def test_filing_support_only_for_city_level_filings(url: str) -> None:
    """003 art. 15: 对获得市级备案的科技创新平台，分类给予扶持资助 — a district-level
    platform earns no filing support (SPEC §6)."""
    propose(url, "LS-ERC-001", "engineering-research-center", LS_ZHIZAO, level="district",
            on="2025-06-01")  # fmt: skip
    data = ok(url, *approve_args("LS-ERC-001", "2025-07-01"))
    assert "EntitlementEarned" not in [e for e, _ in recorded(data)]


def test_an_entitlement_may_be_allocated_in_parts(url: str) -> None:
    """SPEC §6: the same entitlement is not granted twice (003 art. 28), but one
    entitlement may be allocated in several parts up to its amount (003 art. 15:
    500,000 for a key laboratory)."""
    propose(url, "LS-KL-005", "key-laboratory", LS_BIO, on="2025-06-01")
    ok(url, *approve_args("LS-KL-005", "2025-07-01"))
    for amount, fy, on in (("200000", "2025", "2025-10-01"), ("300000", "2026", "2026-02-01")):
        ok(url, "funds", "allocate", "LS-KL-005", "--category", "subsidy", "--amount", amount,
           "--fiscal-year", fy, "--doc-no", f"拉财〔{fy}〕1号", "--on", on)  # fmt: skip
    msg = refused(url, "funds", "allocate", "LS-KL-005", "--category", "subsidy",
                  "--amount", "0.01", "--fiscal-year", "2026",
                  "--doc-no", "拉财〔2026〕2号", "--on", "2026-03-01")  # fmt: skip
    assert "003 art. 28" in msg or "003 art. 15" in msg


def test_a_late_allocation_dated_while_active_is_recorded_and_recoverable(url: str) -> None:
    """SPEC §6: every funds decision is judged on its own effective date — an
    allocation dated while the platform was active is recordable after it was
    delisted, and the money may then be recovered."""
    propose(url, "LS-ERC-002", "engineering-research-center", LS_ZHIZAO, on="2025-06-01")
    ok(url, *approve_args("LS-ERC-002", "2025-07-01"))
    ok(url, "platform", "delist", "LS-ERC-002", "--reason-code", "other",
       "--doc-no", "拉科发〔2026〕7号", "--reason", "依托单位申请撤销", "--on", "2026-05-01",
       "--no-policy")  # fmt: skip
    ok(url, "funds", "allocate", "LS-ERC-002", "--category", "operation", "--amount", "1000",
       "--fiscal-year", "2026", "--doc-no", "拉财〔2026〕2号", "--on", "2026-03-01")  # fmt: skip
    ok(url, "funds", "disburse", "LS-ERC-002", "--category", "operation", "--amount", "1000",
       "--fiscal-year", "2026", "--voucher", "LS-V-0001", "--on", "2026-03-10")  # fmt: skip
    ok(url, "funds", "recover", "LS-ERC-002", "--category", "operation", "--amount", "1000",
       "--fiscal-year", "2026", "--doc-no", "拉财〔2026〕9号", "--reason", "撤销后追回",
       "--on", "2026-06-01")  # fmt: skip


# --- G14: evaluation cycles -----------------------------------------------------------------


def _lhasa_lab(url: str, code: str = "LS-KL-006") -> None:
    propose(url, code, "key-laboratory", LS_BIO, on="2020-01-10")
    ok(url, *approve_args(code, "2020-03-01"))


def test_an_evaluation_of_a_cycle_not_ended_is_refused(url: str) -> None:
    """003 art. 22: 绩效评估一般以三年为一个周期 — a cycle 2026–2028 cannot be
    evaluated in March 2026 (issue 11: a cycle that has not ended is refused)."""
    _lhasa_lab(url)
    refused(url, "platform", "evaluate", "LS-KL-006", "--cycle", "2026-2028", "--grade", "good",
            "--doc-no", "拉科发〔2026〕5号", "--on", "2026-03-01")  # fmt: skip


def test_an_overlapping_cycle_is_refused(url: str) -> None:
    """003 art. 22/23 (在单个评估周期内（三年）): a cycle overlapping one already
    evaluated is refused (issue 11)."""
    _lhasa_lab(url)
    ok(url, "platform", "evaluate", "LS-KL-006", "--cycle", "2020-2022", "--grade", "good",
       "--doc-no", "拉科发〔2023〕5号", "--on", "2023-03-01")  # fmt: skip
    refused(url, "platform", "evaluate", "LS-KL-006", "--cycle", "2021-2023", "--grade", "good",
            "--doc-no", "拉科发〔2024〕5号", "--on", "2024-03-01")  # fmt: skip


def test_a_keqiao_platform_is_first_evaluated_after_a_year(url: str) -> None:
    """004 §4.3: 由区科技局牵头对建设运营满一年……的科创平台进行评价."""
    propose(url, "KQ-002", "co-built-platform", KQ_TEX, ZSTU, policy="keqiao-co-built",
            level="district", agreement_on="2025-01-05", on="2025-01-20")  # fmt: skip
    ok(url, *approve_args("KQ-002", "2025-02-01", "--term-years", "5"))
    msg = refused(url, "platform", "evaluate", "KQ-002", "--cycle", "2025", "--grade", "good",
                  "--doc-no", "柯科发〔2026〕1号", "--on", "2026-01-10")  # fmt: skip
    assert "004 §4.3" in msg


# --- G15–G18: deadlines watched ---------------------------------------------------------------


def test_a_high_energy_platform_is_not_approved_into_operating(url: str) -> None:
    """000 art. 22: 平台分为建设期和运行期。建设期一般为2-3年，建设期满后组织验收 — the
    approval names its construction period."""
    propose(url, "XJ-HE-002", "high-energy-platform", XJ_AUTO, policy="xinjiang-high-energy",
            level="regional", on="2024-01-10")  # fmt: skip
    msg = refused(url, *approve_args("XJ-HE-002", "2024-03-01"))
    assert "000 art. 22" in msg


@BOTH
def test_acceptance_due_is_listed(url: str) -> None:
    """000 art. 22: 建设期满后组织验收 — `compliance overdue` lists the acceptance
    due when construction ends."""
    propose(url, "XJ-HE-003", "high-energy-platform", XJ_AUTO, policy="xinjiang-high-energy",
            level="regional", on="2022-01-10")  # fmt: skip
    ok(url, *approve_args("XJ-HE-003", "2022-03-01", "--construction-years", "2"))
    rows = [r for r in overdue(url, "2025-06-01") if r["platform"] == "XJ-HE-003"]
    assert [(r["due"], r["basis"]) for r in rows] == [("2024-03-01", "000 art. 22")]


@BOTH
def test_a_platform_past_its_term_is_listed_and_its_payments_flagged(url: str) -> None:
    """004 §3.1: 共建时间一般为3-5年……共建到期的科创平台，按……相关政策规定给予支持 — a
    platform past its term is listed, and a payment to it flagged (issue 11)."""
    propose(url, "KQ-003", "co-built-platform", KQ_TEX, policy="keqiao-co-built",
            level="district", agreement_on="2020-03-01", on="2020-03-10")  # fmt: skip
    ok(url, *approve_args("KQ-003", "2020-04-01", "--term-years", "3"))
    ok(url, "funds", "allocate", "KQ-003", "--category", "operation", "--amount", "100000",
       "--fiscal-year", "2024", "--doc-no", "柯财〔2024〕1号", "--on", "2024-01-10")  # fmt: skip
    data = ok(url, "funds", "disburse", "KQ-003", "--category", "operation", "--amount", "1000",
              "--fiscal-year", "2024", "--voucher", "KQ-V1", "--on", "2024-02-01")  # fmt: skip
    assert any("004 §3.1" in w for w in data.get("warnings", [])), data
    rows = [r for r in overdue(url, "2025-06-01") if r["platform"] == "KQ-003"]
    assert any(r["basis"] == "004 §3.1" for r in rows), rows


@BOTH
def test_a_consortium_lead_is_free_after_the_term(url: str) -> None:
    """002 §3.2: 组建期为3-5年，同一时期内一个牵头企业仅限牵头组建一个创新联合体 — after
    the term ends the lead may lead another consortium."""
    xj_consortium(url, "XJ-IC-010", XJ_ENERGY, "2021-03-01", term="3")
    data = propose(url, "XJ-IC-011", "innovation-consortium", XJ_ENERGY, XJ_TIANSHAN, XJ_CHEM,
                   XJ_U, XJ_INST, policy="xinjiang-consortium", level="regional",
                   on="2025-01-10")  # fmt: skip
    assert data["event"] == "Proposed"
    rows = [r for r in overdue(url, "2025-06-01") if r["platform"] == "XJ-IC-010"]
    assert any(r["basis"] == "002 §3.2" for r in rows), rows


@BOTH
def test_an_evaluation_due_is_listed(url: str) -> None:
    """003 art. 22: 绩效评估一般以三年为一个周期 — a lab filed on 2020-03-01 with no
    evaluation by mid-2025 is listed (SPEC §4: an evaluation falls due each cycle)."""
    _lhasa_lab(url, "LS-KL-010")
    rows = [r for r in overdue(url, "2025-06-01") if r["platform"] == "LS-KL-010"]
    assert any(r["basis"] == "003 art. 22" for r in rows), rows


@BOTH
def test_a_high_energy_annual_report_is_due_at_year_end(url: str) -> None:
    """000 art. 23: 进入运行期的平台实行年度报告制度。每年年末向科技办报告 — reading
    (docs/RULES.md 000-15): due by 31 December of each year the platform was operating."""
    propose(url, "XJ-HE-004", "high-energy-platform", XJ_AUTO, policy="xinjiang-high-energy",
            level="regional", on="2022-01-10")  # fmt: skip
    ok(url, *approve_args("XJ-HE-004", "2022-03-01", "--construction-years", "2"))
    ok(url, "platform", "accept", "XJ-HE-004", "--doc-no", "新科发〔2024〕6号",
       "--on", "2024-03-05")  # fmt: skip
    rows = [r for r in overdue(url, "2025-06-01") if r["platform"] == "XJ-HE-004"]
    assert [(r["due"], r["basis"]) for r in rows] == [("2024-12-31", "000 art. 23")]


# --- G19: month and year ends (SPEC §2.1) ---------------------------------------------------


def test_a_month_from_31_january_ends_in_february(url: str) -> None:
    """004 §1.4: 在签订合作协议后的一个月内，应向区科技局提交备案报告; SPEC §2.1: a
    month from 31 January ends on 28 February (民法典 art. 202) — a filing on
    1 March 2025 is late."""
    data = propose(url, "KQ-004", "co-built-platform", KQ_TEX, policy="keqiao-co-built",
                   level="district", agreement_on="2025-01-31", on="2025-03-01")  # fmt: skip
    assert any("004 §1.4" in w for w in data.get("warnings", [])), data
    assert query(url, "platform", "show", "KQ-004")["filing_due"] == "2025-02-28"


@BOTH
def test_a_term_from_29_february_ends_on_28_february(url: str) -> None:
    """004 §3.1 term; SPEC §2.1: periods by years end on the corresponding day,
    or the month's last day when it has none (bans keep SPEC §7's 1 March)."""
    propose(url, "KQ-005", "co-built-platform", ZSTU, policy="keqiao-co-built",
            level="district", agreement_on="2024-02-20", on="2024-02-28")  # fmt: skip
    ok(url, *approve_args("KQ-005", "2024-02-29", "--term-years", "3"))
    assert query(url, "platform", "show", "KQ-005")["term_ends"] == "2027-02-28"


# --- G20, G21: validity and kinds -----------------------------------------------------------


def test_a_proposal_outside_the_validity_of_001_is_warned(url: str) -> None:
    """001 §6.2: 有效期为2023年1月27日至2025年1月26日 — a proposal under xinjiang-tic
    after that is recorded with a warning; one inside it is not."""
    inside = propose(url, "XJ-TIC-006", "tech-innovation-center", XJ_SOFT, policy="xinjiang-tic",
                     level="regional", on="2024-06-01")  # fmt: skip
    assert not inside.get("warnings")
    outside = propose(url, "XJ-TIC-005", "tech-innovation-center", XJ_ENERGY,
                      policy="xinjiang-tic", level="regional", on="2025-06-01")  # fmt: skip
    assert outside["event"] == "Proposed"
    assert any("2025-01-26" in w for w in outside.get("warnings", [])), outside


def test_a_kind_outside_its_programme_is_refused(url: str) -> None:
    """003 art. 2: 本办法所称的科技创新平台仅指……工程技术研究中心、重点实验室、技术创新中心、
    临床医学研究中心、野外科学观测研究站、新型研发机构 — a co-built platform is 004's."""
    msg = refused(url, "platform", "propose", "LS-CB-001", "--name", "拉萨共建研究院",
                  "--kind", "co-built-platform", "--level", "city", "--host", LS_ZHIZAO,
                  "--policy", "lhasa-city", "--on", "2026-06-01")  # fmt: skip
    assert "003 art. 2" in msg


# --- reconciliation judges flags by the payment's programme ------------------------------


def _reconcile_flags(url: str, tmp_path: Path, rows: list[tuple[str, str, str, str]]) -> set[Any]:
    """`funds reconcile` of a plain UTF-8 statement holding these payments
    (date, voucher, payee, amount): the (voucher, flag) pairs it reports."""
    statement = tmp_path / "statement.csv"
    lines = ["date,voucher,payee,amount", *(",".join(r) for r in rows)]
    statement.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = ledger(url, "funds", "reconcile", "--statement", str(statement), "--format", "json")
    assert r.exit_code in (0, 1), f"exit {r.exit_code}: {r.stderr}"
    data = json.loads(r.stdout)
    return {(f["voucher"], f["flag"]) for f in data["flags"]}


@BOTH
def test_reconcile_flags_a_debarred_host_only_under_the_ban_s_programme(
    url: str, tmp_path: Path
) -> None:
    """SPEC §2.1: a ban recorded under a programme bars applications under that
    programme only; a ledger-wide ban counts under every programme. A payment's
    `debarred-host` flag, at `disburse` and in `funds reconcile`, follows the
    same rule (a finance officer must not see a flag the ledger did not raise)."""
    xj_centre(url)
    ok(url, "unit", "debar", XJ_TIANSHAN, "--years", "3", "--from", "2024-01-01",
       "--scope", "platform-application", "--doc-no", "拉科发〔2024〕9号",
       "--reason", "市级备案资格取消", "--policy", "lhasa-city")  # fmt: skip
    ok(url, "funds", "allocate", "XJ-TIC-001", "--category", "operation", "--amount", "100000",
       "--fiscal-year", "2024", "--doc-no", "新财〔2024〕1号", "--on", "2024-01-10")  # fmt: skip
    first = ok(url, "funds", "disburse", "XJ-TIC-001", "--category", "operation",
               "--amount", "1000", "--fiscal-year", "2024", "--voucher", "XJ-V1",
               "--on", "2024-02-01")  # fmt: skip
    assert "debarred-host" not in json.dumps(first), first
    ok(url, "unit", "debar", XJ_TIANSHAN, "--years", "3", "--from", "2024-03-01",
       "--scope", "platform-application", "--doc-no", "国科发〔2024〕1号",
       "--reason", "全国科研诚信通报")  # fmt: skip
    second = ok(url, "funds", "disburse", "XJ-TIC-001", "--category", "operation",
                "--amount", "2000", "--fiscal-year", "2024", "--voucher", "XJ-V2",
                "--on", "2024-04-01")  # fmt: skip
    assert "debarred-host" in json.dumps(second), second
    name = UNITS[XJ_TIANSHAN][0]
    flags = _reconcile_flags(
        url,
        tmp_path,
        [("2024-02-01", "XJ-V1", name, "1000.00"), ("2024-04-01", "XJ-V2", name, "2000.00")],
    )
    assert ("XJ-V2", "debarred-host") in flags
    assert ("XJ-V1", "debarred-host") not in flags, flags


@BOTH
def test_reconcile_flags_a_payment_past_the_platform_s_term(url: str, tmp_path: Path) -> None:
    """004 §3.1 (共建时间一般为3-5年): a payment after a Keqiao co-built
    platform's term ended is flagged `past-term` at `disburse` and in
    `funds reconcile`; one within the term is not."""
    propose(url, "KQ-003", "co-built-platform", KQ_TEX, policy="keqiao-co-built",
            level="district", agreement_on="2020-03-01", on="2020-03-10")  # fmt: skip
    ok(url, *approve_args("KQ-003", "2020-04-01", "--term-years", "3"))
    for year in ("2022", "2024"):
        ok(url, "funds", "allocate", "KQ-003", "--category", "operation",
           "--amount", "100000", "--fiscal-year", year,
           "--doc-no", f"柯财〔{year}〕1号", "--on", f"{year}-01-10")  # fmt: skip
        ok(url, "funds", "disburse", "KQ-003", "--category", "operation", "--amount", "1000",
           "--fiscal-year", year, "--voucher", f"KQ-{year}", "--on", f"{year}-02-01")  # fmt: skip
    name = UNITS[KQ_TEX][0]
    flags = _reconcile_flags(
        url,
        tmp_path,
        [("2022-02-01", "KQ-2022", name, "1000.00"), ("2024-02-01", "KQ-2024", name, "1000.00")],
    )
    assert ("KQ-2024", "past-term") in flags
    assert ("KQ-2022", "past-term") not in flags, flags
