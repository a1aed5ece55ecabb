"""Units and helpers shared by the application and CLI tests: real-looking
units with valid credit codes, and a ledger initialised the way `ledger init`
does it."""

from __future__ import annotations

from datetime import date

from aggregates.values import credit_code_check_char
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
    "keqiao": (credit_code("91330621MA2B00001"), "绍兴柯桥纺织科技有限公司", "enterprise", True),
    "zstu": (credit_code("12330000MB0000001"), "浙江理工大学", "university", False),
}
# units of the consortium: the lead and four members (3 of 5 enterprises, 1 high-tech)
CONSORTIUM_MEMBERS = ("xj_robot", "xj_auto", "xj_u", "xj_inst")


def code(key: str) -> str:
    return UNITS[key][0]


def init_ledger(url: str, policy: str = "lhasa-city") -> None:
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
