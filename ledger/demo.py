"""`ledger demo`: a realistic ledger drawn from the seed documents.

Units with valid credit codes and Chinese names; a platform of every kind
under its own policy; approvals, an evaluation round, a failed rectification
with its 3-year ban (003 art. 24), an academic-misconduct finding with its
5-year ban and delisting (003 art. 25), a blacklisting, allocations, payments,
a reversal, a recovery, a flagged payment, and a pending change request.
Every date lies on or before 2026-09-30.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from aggregates.errors import AlreadyExists, InvalidInput
from aggregates.values import credit_code_check_char
from ledger.service import LedgerService, today

ACTOR = "demo-loader"


def code(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


# Units: (first 17 characters of the credit code, name, type, high-tech, aliases)
UNITS: dict[str, tuple[str, str, str, bool, tuple[str, ...]]] = {
    "bio": ("91540100MA6T0A0B1", "拉萨高原生物科技有限公司", "enterprise", True, ("高原生物",)),
    "tibet_u": ("12540000MB0000000", "西藏大学", "university", False, ()),
    "jingtu": ("91540100MA6T0A0C2", "西藏净土农业科技有限公司", "enterprise", True, ("净土农业",)),
    "med_inst": ("12540000MB0000011", "西藏高原医学研究所", "institute", False, ()),
    "zhizao": ("91540100MA6T0A0D3", "拉萨智造装备有限公司", "enterprise", False, ()),
    "hospital": ("12540000MB0000022", "西藏自治区人民医院", "hospital", False, ()),
    "plateau_inst": ("12540000MB0000033", "青藏高原野外观测研究所", "institute", False, ()),
    # the clinical research centre's network (003 annex: 市级优势医院不少于1家，县区基层医疗机构不少于3家)
    "city_hosp": ("12540100MB0000021", "拉萨市人民医院", "hospital", False, ()),
    "county_hosp": ("12540100MB0000022", "拉萨市城关区人民医院", "hospital", False, ()),
    "county_hosp2": ("12540100MB0000023", "堆龙德庆区人民医院", "hospital", False, ()),
    "tianshan": (
        "91650100MA7700001",
        "新疆天山新材料股份有限公司",
        "enterprise",
        True,
        ("天山新材",),
    ),
    "xj_u": ("12650000MB0000001", "新疆大学", "university", False, ()),
    "xj_robot": ("91650100MA7700002", "新疆丝路智能装备有限公司", "enterprise", True, ()),
    "xj_auto": ("91650100MA7700003", "乌鲁木齐数控机床有限公司", "enterprise", False, ()),
    "xj_solar": (
        "91650100MA7700004",
        "新疆光能新能源科技有限公司",
        "enterprise",
        True,
        ("光能科技",),
    ),
    "xj_wind": ("91650100MA7700005", "新疆风电装备制造有限公司", "enterprise", False, ()),
    "xj_grid": ("91650100MA7700006", "新疆电网技术服务有限公司", "enterprise", False, ()),
    "xj_inst": ("12650000MB0000012", "新疆能源研究院", "institute", False, ()),
    "keqiao": ("91330621MA2B00001", "绍兴柯桥纺织科技有限公司", "enterprise", True, ("柯桥纺织",)),
    "zstu": ("12330000MB0000001", "浙江理工大学", "university", False, ()),
}


# the clinical research centre's hospital network, registered when it is filed
NETWORK_UNITS = ("city_hosp", "county_hosp", "county_hosp2")


def unit_code(key: str) -> str:
    return code(UNITS[key][0])


@dataclass(frozen=True)
class DemoPayment:
    voucher: str
    platform: str
    category: str
    fiscal_year: int
    amount: Decimal
    paid_on: date
    payee: str  # the host unit's name, as a bank statement shows it


def _d(text: str) -> date:
    return date.fromisoformat(text)


def load_demo(svc: LedgerService) -> dict[str, Any]:
    """Record the demo ledger through the service, as a clerk would."""
    # --- units ------------------------------------------------------------------------------
    for key, (first17, name, utype, high_tech, aliases) in UNITS.items():
        if key in NETWORK_UNITS:
            continue  # registered with the clinical research centre, below
        svc.register_unit(
            code(first17),
            name=name,
            unit_type=utype,
            high_tech=high_tech,
            aliases=list(aliases),
            actor=ACTOR,
            on=_d("2023-01-05"),
        )
    u = unit_code

    # --- lhasa-city: a key laboratory, operating, funded, with a pending rename ----------------
    svc.propose(
        "LS-KL-001",
        name="拉萨高原生物重点实验室",
        kind="key-laboratory",
        level="city",
        host=u("bio"),
        co_builders=[u("tibet_u")],
        actor=ACTOR,
        policy="lhasa-city",
        on=_d("2024-01-20"),
        doc_no="拉科申〔2024〕3号",
    )
    svc.approve("LS-KL-001", doc_no="拉科发〔2024〕11号", actor=ACTOR, on=_d("2024-03-01"))
    svc.allocate(
        "LS-KL-001",
        category="subsidy",
        amount=Decimal("500000.00"),
        fiscal_year=2024,
        doc_no="拉财教〔2024〕21号",
        actor=ACTOR,
        on=_d("2024-03-20"),
    )
    svc.allocate(
        "LS-KL-001",
        category="operation",
        amount=Decimal("300000.00"),
        fiscal_year=2026,
        doc_no="拉财教〔2026〕5号",
        actor=ACTOR,
        on=_d("2026-02-10"),
    )
    svc.report("LS-KL-001", year=2024, actor=ACTOR, on=_d("2024-11-25"))
    svc.report("LS-KL-001", year=2025, actor=ACTOR, on=_d("2025-12-05"))  # late: due 30 Nov
    svc.request_change(
        "LS-KL-001",
        change_type="rename",
        details={"name": "拉萨高原生物与健康重点实验室"},
        reason="研究方向拓展至高原健康",
        actor=ACTOR,
        on=_d("2026-09-01"),
    )

    # --- lhasa-city: an engineering research centre: poor grade, failed rectification ----------
    svc.propose(
        "LS-ERC-001",
        name="拉萨净土农业工程技术研究中心",
        kind="engineering-research-center",
        level="city",
        host=u("jingtu"),
        co_builders=[],
        actor=ACTOR,
        policy="lhasa-city",
        on=_d("2022-12-01"),
    )
    svc.approve("LS-ERC-001", doc_no="拉科发〔2023〕4号", actor=ACTOR, on=_d("2023-03-15"))
    svc.allocate(
        "LS-ERC-001",
        category="operation",
        amount=Decimal("200000.00"),
        fiscal_year=2025,
        doc_no="拉财教〔2025〕8号",
        actor=ACTOR,
        on=_d("2025-03-01"),
    )
    svc.evaluate(
        "LS-ERC-001",
        cycle="2022-2024",
        grade="poor",
        doc_no="拉科发〔2025〕30号",
        actor=ACTOR,
        on=_d("2025-05-20"),
    )
    svc.rectify(
        "LS-ERC-001",
        passed=False,
        doc_no="拉科发〔2026〕19号",
        actor=ACTOR,
        on=_d("2026-06-10"),
        reason="整改期满复核不合格",
    )

    # --- lhasa-city: a key laboratory delisted for academic misconduct -------------------------
    svc.propose(
        "LS-KL-002",
        name="拉萨高原医学重点实验室",
        kind="key-laboratory",
        level="city",
        host=u("med_inst"),
        co_builders=[u("hospital")],
        actor=ACTOR,
        policy="lhasa-city",
        on=_d("2023-04-01"),
    )
    svc.approve("LS-KL-002", doc_no="拉科发〔2023〕15号", actor=ACTOR, on=_d("2023-06-01"))
    svc.allocate(
        "LS-KL-002",
        category="research",
        amount=Decimal("800000.00"),
        fiscal_year=2025,
        doc_no="拉财教〔2025〕12号",
        actor=ACTOR,
        on=_d("2025-03-10"),
    )

    # --- lhasa-city: clinical research centre, field station, a pending new R&D institution -----
    for key in NETWORK_UNITS:
        first17, name, utype, high_tech, aliases = UNITS[key]
        svc.register_unit(
            code(first17),
            name=name,
            unit_type=utype,
            high_tech=high_tech,
            aliases=list(aliases),
            actor=ACTOR,
            on=_d("2024-03-20"),
        )
    svc.propose(
        "LS-CRC-001",
        name="西藏高原病临床医学研究中心",
        kind="clinical-research-center",
        level="regional",
        host=u("hospital"),
        co_builders=[u("med_inst"), u("city_hosp"), u("county_hosp"), u("county_hosp2")],
        actor=ACTOR,
        policy="lhasa-city",
        on=_d("2024-04-01"),
    )
    svc.approve("LS-CRC-001", doc_no="拉科发〔2024〕20号", actor=ACTOR, on=_d("2024-06-01"))
    svc.propose(
        "LS-FS-001",
        name="纳木错高寒草地野外科学观测研究站",
        kind="field-station",
        level="city",
        host=u("plateau_inst"),
        co_builders=[],
        actor=ACTOR,
        policy="lhasa-city",
        on=_d("2024-05-01"),
    )
    svc.approve("LS-FS-001", doc_no="拉科发〔2024〕22号", actor=ACTOR, on=_d("2024-07-01"))
    svc.allocate(
        "LS-FS-001",
        category="operation",
        amount=Decimal("150000.00"),
        fiscal_year=2026,
        doc_no="拉财教〔2026〕9号",
        actor=ACTOR,
        on=_d("2026-02-10"),
    )
    svc.propose(
        "LS-NRD-001",
        name="拉萨智能装备新型研发机构",
        kind="new-rd-institution",
        level="city",
        host=u("zhizao"),
        co_builders=[],
        actor=ACTOR,
        policy="lhasa-city",
        on=_d("2025-01-10"),
    )
    svc.approve("LS-NRD-001", doc_no="拉科发〔2025〕3号", actor=ACTOR, on=_d("2025-03-01"))
    svc.allocate(
        "LS-NRD-001",
        category="operation",
        amount=Decimal("100000.00"),
        fiscal_year=2026,
        doc_no="拉财教〔2026〕10号",
        actor=ACTOR,
        on=_d("2026-02-10"),
    )

    # --- xinjiang-high-energy: in its 3-year construction period --------------------------------
    svc.propose(
        "XJ-HE-001",
        name="新疆先进材料高能级科技创新平台",
        kind="high-energy-platform",
        level="regional",
        host=u("tianshan"),
        co_builders=[u("xj_u")],
        actor=ACTOR,
        policy="xinjiang-high-energy",
        on=_d("2024-02-01"),
    )
    svc.approve(
        "XJ-HE-001",
        doc_no="新科发〔2024〕7号",
        construction_years=3,
        actor=ACTOR,
        on=_d("2024-05-01"),
    )
    svc.allocate(
        "XJ-HE-001",
        category="startup",
        amount=Decimal("3000000.00"),
        fiscal_year=2024,
        doc_no="新财教〔2024〕31号",
        actor=ACTOR,
        on=_d("2024-05-20"),
    )

    # --- xinjiang-tic: a university-led centre with two enterprise co-builders -------------------
    svc.propose(
        "XJ-TIC-001",
        name="新疆智能制造技术创新中心",
        kind="tech-innovation-center",
        level="regional",
        host=u("xj_u"),
        co_builders=[u("xj_robot"), u("xj_auto")],
        actor=ACTOR,
        policy="xinjiang-tic",
        on=_d("2023-05-01"),
    )
    svc.approve("XJ-TIC-001", doc_no="新科发〔2023〕18号", actor=ACTOR, on=_d("2023-09-01"))
    svc.evaluate(
        "XJ-TIC-001",
        cycle="2023-2025",
        grade="excellent",
        doc_no="新科发〔2026〕9号",
        actor=ACTOR,
        on=_d("2026-06-15"),
    )
    svc.allocate(
        "XJ-TIC-001",
        category="reward",
        amount=Decimal("2000000.00"),
        fiscal_year=2026,
        doc_no="新财教〔2026〕14号",
        actor=ACTOR,
        on=_d("2026-07-01"),
    )

    # --- xinjiang-consortium: five members, led by a high-tech enterprise ------------------------
    svc.propose(
        "XJ-IC-001",
        name="新疆新能源创新联合体",
        kind="innovation-consortium",
        level="regional",
        host=u("xj_solar"),
        co_builders=[u("xj_wind"), u("xj_grid"), u("xj_inst"), u("tianshan")],
        actor=ACTOR,
        policy="xinjiang-consortium",
        on=_d("2024-08-01"),
    )
    svc.approve(
        "XJ-IC-001", doc_no="新科发〔2024〕26号", actor=ACTOR, on=_d("2024-10-01"), term_years=5
    )
    svc.allocate(
        "XJ-IC-001",
        category="research",
        amount=Decimal("1200000.00"),
        fiscal_year=2025,
        doc_no="新财教〔2025〕6号",
        actor=ACTOR,
        on=_d("2025-02-01"),
    )

    # --- keqiao-co-built: filed late, two poor years in a row -----------------------------------
    svc.propose(
        "KQ-CB-001",
        name="柯桥现代纺织共建科创平台",
        kind="co-built-platform",
        level="district",
        host=u("keqiao"),
        co_builders=[u("zstu")],
        actor=ACTOR,
        policy="keqiao-co-built",
        agreement_on=_d("2024-01-10"),
        on=_d("2024-03-01"),
    )
    svc.approve(
        "KQ-CB-001", doc_no="柯科〔2024〕5号", term_years=5, actor=ACTOR, on=_d("2024-04-01")
    )
    svc.allocate(
        "KQ-CB-001",
        category="matching",
        amount=Decimal("600000.00"),
        fiscal_year=2025,
        doc_no="柯财〔2025〕3号",
        actor=ACTOR,
        on=_d("2025-01-15"),
    )
    svc.evaluate(
        "KQ-CB-001",
        cycle="2024",
        grade="poor",
        doc_no="柯科〔2025〕8号",
        actor=ACTOR,
        on=_d("2025-04-10"),
    )
    svc.rectify(
        "KQ-CB-001", passed=True, doc_no="柯科〔2025〕20号", actor=ACTOR, on=_d("2025-10-10")
    )
    svc.evaluate(
        "KQ-CB-001",
        cycle="2025",
        grade="poor",
        doc_no="柯科〔2026〕6号",
        actor=ACTOR,
        on=_d("2026-04-12"),
    )

    # --- payments -----------------------------------------------------------------------------
    payments = [
        DemoPayment(
            "PZ2024-0031",
            "LS-KL-001",
            "subsidy",
            2024,
            Decimal("500000.00"),
            _d("2024-04-08"),
            UNITS["bio"][1],
        ),
        DemoPayment(
            "PZ2024-0044",
            "XJ-HE-001",
            "startup",
            2024,
            Decimal("1500000.00"),
            _d("2024-06-03"),
            UNITS["tianshan"][1],
        ),
        DemoPayment(
            "PZ2025-0007",
            "KQ-CB-001",
            "matching",
            2025,
            Decimal("300000.00"),
            _d("2025-02-10"),
            UNITS["keqiao"][1],
        ),
        DemoPayment(
            "PZ2025-0012",
            "XJ-IC-001",
            "research",
            2025,
            Decimal("600000.00"),
            _d("2025-03-05"),
            UNITS["xj_solar"][1],
        ),
        DemoPayment(
            "PZ2025-0015",
            "LS-ERC-001",
            "operation",
            2025,
            Decimal("100000.00"),
            _d("2025-03-18"),
            UNITS["jingtu"][1],
        ),
        DemoPayment(
            "PZ2025-0016",
            "LS-KL-002",
            "research",
            2025,
            Decimal("400000.00"),
            _d("2025-03-25"),
            UNITS["med_inst"][1],
        ),
        DemoPayment(
            "PZ2026-0003",
            "LS-KL-001",
            "operation",
            2026,
            Decimal("150000.00"),
            _d("2026-03-02"),
            UNITS["bio"][1],
        ),
        DemoPayment(
            "PZ2026-0004",
            "LS-FS-001",
            "operation",
            2026,
            Decimal("75000.00"),
            _d("2026-03-02"),
            UNITS["plateau_inst"][1],
        ),
        DemoPayment(
            "PZ2026-0005",
            "LS-NRD-001",
            "operation",
            2026,
            Decimal("50000.00"),
            _d("2026-03-06"),
            UNITS["zhizao"][1],
        ),
        DemoPayment(
            "PZ2026-0009",
            "LS-KL-001",
            "operation",
            2026,
            Decimal("80000.00"),
            _d("2026-05-06"),
            UNITS["bio"][1],
        ),
        DemoPayment(
            "PZ2026-0011",
            "LS-NRD-001",
            "operation",
            2026,
            Decimal("30000.00"),
            _d("2026-05-12"),
            UNITS["zhizao"][1],
        ),
        DemoPayment(
            "PZ2026-0014",
            "XJ-TIC-001",
            "reward",
            2026,
            Decimal("2000000.00"),
            _d("2026-07-15"),
            UNITS["xj_u"][1],
        ),
    ]
    by_voucher = {p.voucher: p for p in payments}

    def pay(voucher: str) -> None:
        p = by_voucher[voucher]
        svc.disburse(
            p.platform,
            category=p.category,
            amount=p.amount,
            fiscal_year=p.fiscal_year,
            voucher=p.voucher,
            actor=ACTOR,
            on=p.paid_on,
        )

    for v in (
        "PZ2024-0031",
        "PZ2024-0044",
        "PZ2025-0007",
        "PZ2025-0012",
        "PZ2025-0015",
        "PZ2025-0016",
        "PZ2026-0003",
        "PZ2026-0004",
        "PZ2026-0005",
    ):
        pay(v)

    # the misconduct finding: LS-KL-002 delisted, its host barred 5 years (003 art. 25)
    svc.record_violation(
        u("med_inst"),
        kind="academic-misconduct",
        occurred_on=_d("2025-12-01"),
        doc_no="拉科监〔2026〕2号",
        actor=ACTOR,
        on=_d("2026-03-10"),
        platform="LS-KL-002",
        reason="论文数据造假，经调查属实",
    )
    # a recovery of the misused research money
    svc.recover(
        "LS-KL-002",
        category="research",
        fiscal_year=2025,
        amount=Decimal("150000.00"),
        doc_no="拉财监〔2026〕4号",
        reason="学术不端，追回违规使用经费",
        actor=ACTOR,
        on=_d("2026-04-02"),
    )
    # a task default: the host of LS-NRD-001 goes on the integrity blacklist (003 art. 25)
    svc.record_violation(
        u("zhizao"),
        kind="task-default",
        occurred_on=_d("2026-01-31"),
        doc_no="拉科监〔2026〕5号",
        actor=ACTOR,
        on=_d("2026-04-15"),
        reason="无正当理由未完成2025年度科研任务",
    )
    # keqiao: two poor years in a row; funding suspended (004 §4.3, §4.4)
    svc.suspend(
        "KQ-CB-001",
        doc_no="柯科〔2026〕7号",
        reason="连续两年评估不合格，暂停拨付",
        actor=ACTOR,
        on=_d("2026-04-20"),
    )
    pay("PZ2026-0009")
    pay("PZ2026-0011")  # flagged: the host is on the blacklist on the payment date
    pay("PZ2026-0014")
    # a duplicate payment, reversed
    svc.reverse(
        "LS-KL-001",
        voucher="PZ2026-0009",
        reason="与PZ2026-0003重复拨付，冲销",
        actor=ACTOR,
        on=_d("2026-05-20"),
    )
    # a unit barred by a decision document, later lifted on appeal
    d = svc.debar(
        u("xj_auto"),
        years=3,
        start=_d("2025-08-01"),
        scopes=["project-application"],
        doc_no="新科监〔2025〕11号",
        reason="项目结题材料不实",
        actor=ACTOR,
        on=_d("2025-08-01"),
    )
    svc.lift(
        u("xj_auto"),
        d.id or "",
        doc_no="新科监〔2026〕3号",
        reason="申诉成立，信用修复",
        actor=ACTOR,
        on=_d("2026-02-01"),
    )
    return {
        "payments": payments,
        "units": {k: unit_code(k) for k in UNITS},
        "platforms": platforms_proposed(svc),
    }


def platforms_proposed(svc: LedgerService) -> list[str]:
    """The codes of the platforms recorded (the demo's own count, not a constant)."""
    codes = []
    for topic, ev in svc.all_codes():
        if topic.endswith("Platform.Proposed"):
            codes.append(str(ev.code))
    return codes


# the demo's history runs to this business date; "today" must not be earlier
DEMO_LATEST = date(2026, 9, 30)


def ensure_demo_can_load(svc: LedgerService) -> None:
    """Refuse up front what would stop the demo half-way: a database that is
    not empty, or a "today" before the end of the demo's history."""
    now = today()
    if now < DEMO_LATEST:
        raise InvalidInput(
            f"today is {now} (LEDGER_TODAY?), but the demo's history runs to {DEMO_LATEST}; "
            "run it with a later date"
        )
    ensure_empty(svc)


def ensure_empty(svc: LedgerService) -> None:
    head = svc.app.recorder.max_notification_id()
    if head:
        raise AlreadyExists(
            f"the database at {svc.cfg.display_url} already holds {head} events; "
            "`ledger demo` loads into an empty ledger (use --db to choose another)"
        )
