"""Batch screening explains only the candidates that can still enter the
answer (``projections.screening``: candidates best bound first, stopped once
`limit` hits score above the next bound). The bound is an optimisation: on a
ledger of many look-alike names, every query gets the same answer as when
every candidate is explained."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
from pypinyin import lazy_pinyin

from aggregates.values import credit_code_check_char
from ledger.reads import install, open_read
from ledger.service import LedgerService
from ledger.store.db import migrate, parse_db_url
from projections.screening import screen

PLACES = ["北京", "上海", "拉萨", "成都", "西藏", "日喀则", "林芝"]
TRADES = ["高原", "生物", "科技", "医药", "信息", "能源", "材料", "农业", "智能", "环境"]
FORMS = ["有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "研究院"]
TRAD = str.maketrans("药发气电东国长实业", "藥發氣電東國長實業")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('screen')) / 'l.db'}"
    migrate(parse_db_url(url))
    svc = LedgerService(url)
    install(svc)
    rnd = random.Random(7)
    names: list[str] = []
    for i in range(120):
        first17 = f"91540100MA{i:07d}"
        trade = "".join(rnd.sample(TRADES, 2))
        name = f"{rnd.choice(PLACES)}{trade}{rnd.choice(FORMS)}"
        if name in names:
            name = f"{rnd.choice(PLACES)}{trade}{i}{rnd.choice(FORMS)}"
        names.append(name)
        svc.register_unit(
            first17 + credit_code_check_char(first17),
            name=name,
            unit_type="enterprise",
            high_tech=False,
            aliases=[trade] if i % 4 == 0 else [],
            actor="test",
        )
    svc.close()
    return url, names


def test_the_bound_never_changes_an_answer(ledger: tuple[str, list[str]]) -> None:
    url, names = ledger
    rnd = random.Random(11)
    queries: list[str] = []
    for i in range(300):
        base = rnd.choice(names)
        queries.append(
            [
                base,
                base.translate(TRAD),
                base.replace("有限公司", "股份有限公司", 1),
                " ".join(lazy_pinyin(base[:6])),
                base[:2] + "某" + base[3:],
                f"某某{rnd.choice(TRADES)}股份有限公司",
                rnd.choice(TRADES) + rnd.choice(TRADES),
                "91540100MA000",
            ][i % 8]
        )
    on = date(2026, 11, 24)
    with open_read(url) as rm:
        for limit in (1, 3):
            for threshold in (50, 60, 80):
                fast = screen(rm.conn, queries, on, threshold=threshold, limit=limit)
                slow = screen(rm.conn, queries, on, threshold=threshold, limit=limit, bounded=False)
                assert fast == slow, (limit, threshold)
    # the ledger holds look-alikes: most queries have several candidates
    assert sum(1 for r in slow if r["verdict"] != "no") > len(queries)
