"""Units and helpers shared by the application and CLI tests: real-looking
units with valid credit codes, a ledger initialised the way `ledger init`
does it, the service fixture `svc` (every unit registered) and the builders of
the scenarios the application tests share (a key laboratory, a consortium, a
funded platform, a payment, a refusal that records nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from aggregates.errors import LedgerError
from aggregates.values import credit_code_check_char
from ledger.policies import DEFAULT_POLICY_ID
from ledger.service import LedgerService
from ledger.store import db


def credit_code(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


# key: (credit code, name, type, high-tech)
UNITS: dict[str, tuple[str, str, str, bool]] = {
    "bio": (credit_code("91540100MA6T0A0B1"), "拉萨高原生物科技有限公司", "enterprise", True),
    "jingtu": (credit_code("91540100MA6T0A0C2"), "西藏净土农业科技有限公司", "enterprise", True),
    "zhizao": (credit_code("91540100MA6T0A0D3"), "拉萨智造装备有限公司", "enterprise", False),
    "tibet_u": (credit_code("12540000MB0000000"), "西藏大学", "university", False),
    "med_inst": (credit_code("12540000MB0000011"), "西藏高原医学研究所", "institute", False),
    "tianshan": (
        credit_code("91650100MA7700001"),
        "新疆天山新材料股份有限公司",
        "enterprise",
        True,
    ),
    "xj_robot": (credit_code("91650100MA7700002"), "新疆丝路智能装备有限公司", "enterprise", False),
    "xj_auto": (credit_code("91650100MA7700003"), "乌鲁木齐数控机床有限公司", "enterprise", False),
    "xj_u": (credit_code("12650000MB0000001"), "新疆大学", "university", False),
    "xj_inst": (credit_code("12650000MB0000012"), "新疆能源研究院", "institute", False),
    "xj_solar": (
        credit_code("91650100MA7700004"),
        "新疆光能新能源科技有限公司",
        "enterprise",
        True,
    ),
    "keqiao": (credit_code("91330621MA2B00001"), "绍兴柯桥纺织科技有限公司", "enterprise", True),
    "zstu": (credit_code("12330000MB0000001"), "浙江理工大学", "university", False),
}
# units of the consortium: the lead and four members (3 of 5 enterprises, 1 high-tech)
CONSORTIUM_MEMBERS = ("xj_robot", "xj_auto", "xj_u", "xj_inst")


def code(key: str) -> str:
    return UNITS[key][0]


def init_ledger(url: str, policy: str = DEFAULT_POLICY_ID) -> None:
    """What `ledger init` does: the schema, and the default policy."""
    cfg = db.parse_db_url(url)
    db.migrate(cfg)
    db.set_setting(cfg, "default_policy", policy)


def register_all(svc: LedgerService, on: date = date(2020, 1, 2)) -> None:
    for key, (c, name, unit_type, high_tech) in UNITS.items():
        svc.register_unit(
            c, name=name, unit_type=unit_type, high_tech=high_tech, aliases=[], actor=key, on=on
        )


def event_count(svc: LedgerService) -> int:
    return svc.app.recorder.max_notification_id() or 0


# --- the service with every unit registered, and builders of its common scenarios --------

CLERK = "王会计"
BIO, TIBET_U, JINGTU = code("bio"), code("tibet_u"), code("jingtu")
LEAD = code("tianshan")


@pytest.fixture
def svc(db_url: str) -> Iterator[LedgerService]:
    init_ledger(db_url)
    s = LedgerService(db_url)
    register_all(s)
    yield s
    s.close()


def events_since(svc: LedgerService, position: int) -> list[Any]:
    """The domain events recorded after `position`, oldest first."""
    out = []
    start = position + 1
    while True:
        batch = svc.app.recorder.select_notifications(start, 500)
        if not batch:
            return out
        out += [svc.app.mapper.to_domain_event(n) for n in batch]
        start = batch[-1].id + 1


def key_lab(
    svc: LedgerService,
    code_: str = "LS-KL-001",
    host: str = BIO,
    *,
    filed: date = date(2023, 1, 10),
    approved: date = date(2023, 3, 1),
    co_builders: tuple[str, ...] = (TIBET_U,),
) -> None:
    """A Lhasa key laboratory, filed on 10 Jan 2023 and approved on 1 Mar 2023."""
    svc.propose(
        code_,
        name="拉萨高原生物重点实验室",
        kind="key-laboratory",
        level="city",
        host=host,
        co_builders=list(co_builders),
        actor=CLERK,
        on=filed,
    )
    svc.approve(code_, doc_no="拉科发〔2023〕5号", actor=CLERK, on=approved)


def propose_consortium(
    svc: LedgerService,
    code_: str = "XJ-UC-001",
    *,
    name: str = "新疆新材料创新联合体",
    members: tuple[str, ...] = CONSORTIUM_MEMBERS,
    on: date = date(2024, 3, 1),
) -> Any:
    """A Xinjiang innovation consortium filed by LEAD with the given members."""
    return svc.propose(
        code_,
        name=name,
        kind="innovation-consortium",
        level="regional",
        host=LEAD,
        co_builders=[code(k) for k in members],
        policy="xinjiang-consortium",
        actor=CLERK,
        on=on,
    )


def consortium(svc: LedgerService, code_: str = "XJ-UC-001", **kw: Any) -> None:
    propose_consortium(svc, code_, on=kw.get("on", date(2024, 3, 1)))
    svc.approve(
        code_,
        doc_no="新科发〔2024〕11号",
        term_years=5,
        actor=CLERK,
        on=kw.get("on", date(2024, 3, 1)),
    )


def refused(svc: LedgerService, action: Callable[[], Any], error: type[LedgerError]) -> LedgerError:
    """Run a command that must be refused; check that nothing was recorded."""
    before = event_count(svc)
    with pytest.raises(error) as err:
        action()
    assert event_count(svc) == before, "a refused command recorded something"
    return err.value


def funded(svc: LedgerService, code_: str = "LS-KL-001", host: str = BIO) -> None:
    key_lab(svc, code_, host=host, co_builders=())
    allocate_funds(svc, "1000000.00", code_, on=date(2026, 1, 15))


def allocate_funds(
    svc: LedgerService,
    amount: str,
    code_: str = "LS-KL-001",
    *,
    category: str = "operation",
    fiscal_year: int = 2026,
    doc_no: str = "拉财教〔2026〕1号",
    **kw: Any,
) -> Any:
    """An allocation recorded by the clerk (`funds allocate`)."""
    return svc.allocate(
        code_,
        category=category,
        amount=Decimal(amount),
        fiscal_year=fiscal_year,
        doc_no=doc_no,
        actor=CLERK,
        **kw,
    )


def pay(svc: LedgerService, amount: str, voucher: str, code_: str = "LS-KL-001", **kw: Any) -> Any:
    return svc.disburse(
        code_,
        category="operation",
        amount=Decimal(amount),
        fiscal_year=2026,
        voucher=voucher,
        actor=kw.pop("actor", CLERK),
        on=kw.pop("on", date(2026, 3, 15)),
        **kw,
    )


# --- recording steps the scenarios repeat, by the clerk -----------------------------------


def violation(
    svc: LedgerService,
    unit: str,
    kind: str,
    *,
    occurred_on: date = date(2025, 1, 1),
    doc_no: str = "V",
    **kw: Any,
) -> Any:
    """A violation finding recorded by the clerk (`unit violation`)."""
    return svc.record_violation(
        unit, kind=kind, occurred_on=occurred_on, doc_no=doc_no, actor=CLERK, **kw
    )


def debar(
    svc: LedgerService,
    unit: str,
    *,
    start: date,
    scopes: list[str],
    years: int = 3,
    doc_no: str = "d",
    reason: str = "r",
    **kw: Any,
) -> Any:
    """A debarment imposed by the clerk (`unit debar`)."""
    return svc.debar(
        unit,
        years=years,
        start=start,
        scopes=scopes,
        doc_no=doc_no,
        reason=reason,
        actor=CLERK,
        **kw,
    )


def request_change(
    svc: LedgerService, code_: str, change_type: str, details: dict[str, str], **kw: Any
) -> Any:
    """A change request filed by the clerk (`change request`); `reason` is required."""
    return svc.request_change(code_, change_type=change_type, details=details, actor=CLERK, **kw)


def delist(
    svc: LedgerService,
    code_: str = "LS-KL-001",
    *,
    reason_code: str = "other",
    doc_no: str = "d",
    reason: str = "r",
    **kw: Any,
) -> Any:
    """A delisting recorded by the clerk (`platform delist`)."""
    return svc.delist(
        code_, reason_code=reason_code, doc_no=doc_no, reason=reason, actor=CLERK, **kw
    )
