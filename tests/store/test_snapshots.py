"""Snapshots (ledger.store.snapshots): a snapshot never changes an answer, is
outside the hash chain, and is never trusted by `audit verify`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from aggregates.errors import AlreadyExists, IllegalTransition
from aggregates.platform import Platform, platform_id
from aggregates.unit import Unit
from ledger.audit import verify as audit_verify
from ledger.demo import load_demo, unit_code
from ledger.service import LedgerService
from ledger.store import db, snapshots
from tests.scenario import init_ledger

ACTOR = "快照测试"


@pytest.fixture
def demo_svc(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LedgerService]:
    monkeypatch.setenv("LEDGER_TODAY", "2026-09-30")
    init_ledger(db_url)
    svc = LedgerService(db_url)
    load_demo(svc)
    yield svc
    svc.close()


def _every_event(svc: LedgerService) -> None:
    """After the demo: the events the demo does not record, so that every
    platform and unit event type is in the ledger."""
    on = date(2026, 9, 1)
    svc.approve_change("LS-KL-001:CR1", doc_no="拉科发〔2026〕40号", actor=ACTOR, on=on)
    for decide in ("reject", "withdraw"):
        r = svc.request_change(
            "LS-KL-001", change_type="other", details={"note": decide}, reason="调整",
            actor=ACTOR, on=on,
        )  # fmt: skip
        assert r.id
        if decide == "reject":
            svc.reject_change(
                r.id, doc_no="拉科发〔2026〕41号", reason="不符合", actor=ACTOR, on=on
            )
        else:
            svc.withdraw_change(r.id, reason="撤回", actor=ACTOR, on=on)
    svc.upgrade("LS-KL-001", level="regional", doc_no="藏科发〔2026〕2号", actor=ACTOR, on=on)
    svc.accept("XJ-HE-001", doc_no="新科发〔2026〕30号", actor=ACTOR, on=on)
    svc.resume("KQ-CB-001", doc_no="柯科〔2026〕9号", actor=ACTOR, on=on)
    svc.delist(
        "XJ-IC-001", reason_code="withdrawal", doc_no="新科发〔2026〕31号", reason="主动退出",
        actor=ACTOR, on=on,
    )  # fmt: skip
    for code, name in (("LS-KL-090", "拒绝"), ("LS-KL-091", "撤回"), ("LS-KL-092", "验收")):
        svc.propose(
            code, name=f"快照测试平台{name}", kind="key-laboratory", level="city",
            host=unit_code("tibet_u"), co_builders=[], actor=ACTOR, policy="lhasa-city",
            on=date(2026, 8, 1),
        )  # fmt: skip
    svc.reject("LS-KL-090", doc_no="拉科发〔2026〕42号", reason="材料不全", actor=ACTOR, on=on)
    svc.withdraw("LS-KL-091", reason="单位撤回", actor=ACTOR, on=on)
    svc.approve("LS-KL-092", doc_no="拉科发〔2026〕43号", construction_years=2, actor=ACTOR, on=on)
    svc.fail_acceptance(
        "LS-KL-092", doc_no="拉科发〔2026〕44号", reason="未达标", actor=ACTOR, on=date(2026, 9, 2)
    )
    svc.rename_unit(
        unit_code("zhizao"), name="拉萨智造科技有限公司", doc_no="市监变〔2026〕1号",
        actor=ACTOR, on=on,
    )  # fmt: skip
    svc.unblacklist(
        unit_code("zhizao"), doc_no="拉科监〔2026〕9号", reason="信用修复", actor=ACTOR, on=on
    )


def _event_types(cls: type[Aggregate]) -> set[str]:
    abstract = {"Event", "StatusEvent", "Created"}
    return {
        f"{cls.__module__}:{cls.__qualname__}.{name}"
        for name, v in vars(cls).items()
        if isinstance(v, type) and issubclass(v, Aggregate.Event) and name not in abstract
    }


def _state(agg: Aggregate) -> dict[str, Any]:
    return {k: v for k, v in vars(agg).items() if k != "_pending_events"}


def test_a_snapshot_at_any_version_then_the_events_after_it_is_the_replay(
    demo_svc: LedgerService,
) -> None:
    """For every platform and unit, at every version: the aggregate decoded
    from a snapshot of that version, with the later events applied, equals
    the aggregate replayed from all its events — with every event type of
    both kinds recorded."""
    svc = demo_svc
    _every_event(svc)
    seen: set[str] = set()
    ids: dict[Any, type[Aggregate]] = {}
    for topic, ev in svc.all_codes():
        seen.add(topic)
        kind = Platform if topic.startswith("aggregates.platform:") else Unit
        if topic.startswith(("aggregates.platform:", "aggregates.unit:")):
            ids[ev.originator_id] = kind
    assert _event_types(Platform) | _event_types(Unit) <= seen, sorted(
        (_event_types(Platform) | _event_types(Unit)) - seen
    )
    for ident, kind in ids.items():
        final = svc.app.repository.get(ident)
        for v in range(1, final.version + 1):
            at_v = svc.app.repository.get(ident, version=v)
            restored = snapshots.decode_state(snapshots.encode_state(at_v), kind)
            assert _state(restored) == _state(at_v)
            for event in svc.app.repository.event_store.get(ident, gt=v):
                event.mutate(restored)
            assert _state(restored) == _state(final), (kind.__name__, v)


def _pay(svc: LedgerService, code: str, voucher: str) -> None:
    svc.disburse(
        code, category="operation", amount=Decimal("10.00"), fiscal_year=2026, voucher=voucher,
        actor=ACTOR, on=date(2026, 3, 1),
    )  # fmt: skip


def _snapshot_rows(cfg: db.DbConfig) -> list[dict[str, Any]]:
    with db.connect(cfg) as conn:
        return db.fetchall(
            conn,
            "SELECT originator_id, originator_version, chain_hash FROM aggregate_snapshots "
            "ORDER BY originator_version",
        )


def _chain_rows(cfg: db.DbConfig) -> int:
    with db.connect(cfg) as conn:
        row = db.fetchone(conn, "SELECT COUNT(*) AS n FROM event_chain")
    assert row is not None
    return int(row["n"])


def _tamper(cfg: db.DbConfig, state: str) -> None:
    with db.connect(cfg, write=True) as conn:
        db.execute(conn, "UPDATE aggregate_snapshots SET state = ?", (state,))


def test_a_long_platform_is_snapshotted_outside_the_chain_and_loads_from_it(
    demo_svc: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = demo_svc
    monkeypatch.setattr(snapshots, "SNAPSHOT_INTERVAL", 10)
    svc.allocate(
        "LS-FS-001", category="operation", amount=Decimal("100000.00"), fiscal_year=2026,
        doc_no="拉财教〔2026〕77号", actor=ACTOR, on=date(2026, 2, 11),
    )  # fmt: skip
    events_before = _chain_rows(svc.cfg)
    for k in range(25):
        _pay(svc, "LS-FS-001", f"SNAP-{k:03d}")
    rows = _snapshot_rows(svc.cfg)
    ident = platform_id("LS-FS-001")
    assert len(rows) >= 2
    assert all(int(r["originator_version"]) % 10 == 0 for r in rows)
    assert all(str(r["originator_id"]) == str(ident) for r in rows)
    newest = snapshots.load_snapshot(svc._snapshot_conn, ident, Platform)
    assert newest is not None and newest.version == int(rows[-1]["originator_version"])
    # a snapshot writes no chain row: the chain grew by the payments' events only
    payments_events = 25 * 2  # the platform's FundsDisbursed and the voucher's event
    assert _chain_rows(svc.cfg) == events_before + payments_events
    # loading goes through the snapshot and answers as the full replay does
    loaded = svc.platform("LS-FS-001")
    replayed = svc.app.repository.get(ident)
    assert _state(loaded) == _state(replayed)
    assert audit_verify(svc.cfg)["ok"]


@pytest.mark.parametrize(
    "bad_state",
    [
        "not json",
        '{"topic": "aggregates.unit:Unit", "state": {}}',
        '{"topic": "aggregates.platform:Platform", "state": {"__t": "dc", "c": "os:system", '
        '"v": {}}}',
    ],
)
def test_a_damaged_snapshot_is_ignored_by_commands_and_by_audit_verify(
    demo_svc: LedgerService, monkeypatch: pytest.MonkeyPatch, bad_state: str
) -> None:
    """A snapshot that does not decode, is of another kind, or names a class
    outside the aggregates is ignored: the command replays the events and
    answers as without snapshots; `audit verify` gives the same verdict."""
    svc = demo_svc
    monkeypatch.setattr(snapshots, "SNAPSHOT_INTERVAL", 5)
    for k in range(6):
        _pay(svc, "LS-KL-001", f"DMG-{k:03d}")
    assert _snapshot_rows(svc.cfg)
    verdict = audit_verify(svc.cfg)
    _tamper(svc.cfg, bad_state)
    assert audit_verify(svc.cfg) == verdict
    loaded = svc.platform("LS-KL-001")
    assert _state(loaded) == _state(svc.app.repository.get(platform_id("LS-KL-001")))
    _pay(svc, "LS-KL-001", "DMG-after")  # commands go on, from the events


def test_a_snapshot_that_does_not_match_its_recorded_event_is_ignored(
    demo_svc: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A well-formed snapshot whose chain hash is not its event's (copied from
    another ledger, or a history rewritten under it) is not used."""
    svc = demo_svc
    monkeypatch.setattr(snapshots, "SNAPSHOT_INTERVAL", 5)
    for k in range(6):
        _pay(svc, "LS-KL-001", f"MIS-{k:03d}")
    ident = platform_id("LS-KL-001")
    forged = svc.app.repository.get(ident)
    forged.name = "伪造的名称"
    with db.connect(svc.cfg, write=True) as conn:
        db.execute(
            conn,
            "UPDATE aggregate_snapshots SET state = ?, chain_hash = ?",
            (snapshots.encode_state(forged), "0" * 64),
        )
    assert svc.platform("LS-KL-001").name != "伪造的名称"
    assert audit_verify(svc.cfg)["ok"]


def test_snapshots_can_be_deleted_and_are_written_again(
    demo_svc: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = demo_svc
    monkeypatch.setattr(snapshots, "SNAPSHOT_INTERVAL", 5)
    for k in range(6):
        _pay(svc, "LS-KL-001", f"DEL-{k:03d}")
    with db.connect(svc.cfg, write=True) as conn:
        db.execute(conn, "DELETE FROM aggregate_snapshots")
    assert not _snapshot_rows(svc.cfg)
    for k in range(6):
        _pay(svc, "LS-KL-001", f"DEL2-{k:03d}")
    assert _snapshot_rows(svc.cfg)
    assert _state(svc.platform("LS-KL-001")) == _state(
        svc.app.repository.get(platform_id("LS-KL-001"))
    )


def test_a_snapshot_of_the_old_format_is_ignored_and_replaced(
    demo_svc: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot written before the format was recorded (format 1: every
    payment as tagged values) is not used: the command replays the events and
    answers as without snapshots, and the next snapshot is of the current
    format."""
    svc = demo_svc
    monkeypatch.setattr(snapshots, "SNAPSHOT_INTERVAL", 5)
    for k in range(6):
        _pay(svc, "LS-KL-001", f"OLD-{k:03d}")
    ident = platform_id("LS-KL-001")
    newest = snapshots.load_snapshot(svc._snapshot_conn, ident, Platform)
    assert newest is not None
    old = json.loads(snapshots.encode_state(newest))
    del old["format"]
    with db.connect(svc.cfg, write=True) as conn:
        db.execute(conn, "UPDATE aggregate_snapshots SET state = ?", (json.dumps(old),))
    assert snapshots.load_snapshot(svc._snapshot_conn, ident, Platform) is None
    assert _state(svc.platform("LS-KL-001")) == _state(svc.app.repository.get(ident))
    for k in range(5):
        _pay(svc, "LS-KL-001", f"NEW-{k:03d}")
    fresh = snapshots.load_snapshot(svc._snapshot_conn, ident, Platform)
    assert fresh is not None and fresh.version > newest.version
    assert _state(svc.platform("LS-KL-001")) == _state(svc.app.repository.get(ident))


def test_payments_restored_from_a_snapshot_answer_as_replayed_ones(
    demo_svc: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payments of a snapshot stay compact rows until looked up: a reused
    voucher is refused, a reversal and a recovery are judged, and a snapshot
    of a half-restored book is the same as the replay's."""
    svc = demo_svc
    monkeypatch.setattr(snapshots, "SNAPSHOT_INTERVAL", 5)
    for k in range(6):
        _pay(svc, "LS-KL-001", f"ROW-{k:03d}")
    ident = platform_id("LS-KL-001")
    restored = snapshots.load_snapshot(svc._snapshot_conn, ident, Platform)
    assert restored is not None
    assert "ROW-001" in restored.payments
    assert restored.payments["ROW-002"].amount == Decimal("10.00")
    again = snapshots.decode_state(snapshots.encode_state(restored), Platform)
    assert _state(again) == _state(svc.app.repository.get(ident, version=restored.version))
    with pytest.raises(AlreadyExists):
        _pay(svc, "LS-KL-001", "ROW-003")
    svc.reverse("LS-KL-001", voucher="ROW-004", reason="退回", actor=ACTOR, on=date(2026, 3, 2))
    with pytest.raises(IllegalTransition):
        svc.reverse(
            "LS-KL-001", voucher="ROW-004", reason="再次退回", actor=ACTOR, on=date(2026, 3, 3)
        )
    assert _state(svc.platform("LS-KL-001")) == _state(svc.app.repository.get(ident))
