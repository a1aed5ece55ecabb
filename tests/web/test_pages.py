"""The web view's pages over HTTP (Starlette's TestClient), on SQLite and on
PostgreSQL read as the auditor: what each page shows, its date controls, bad
input, and that the view cannot write — not through its connections, not by
any method other than GET, and not by catching the read models up."""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser

import psycopg
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli import main
from ledger.reads import status
from ledger.store import db
from ledger.web.app import WebView, create_app
from tests.browser import (
    FORMER_NAME,
    NEW_NAME,
    PLATFORM_FORMER_NAME,
    PLATFORM_NEW_NAME,
    RENAMED_UNIT,
)
from tests.scenario import credit_code
from tests.web.conftest import WebLedger, as_login

DEMO_EVENTS = 103  # the demo's 101, the unit renamed, the platform's rename approved


class _Texts(HTMLParser):
    """The visible text of the elements with an id, and every table row."""

    VOID = frozenset({"input", "br", "meta", "link", "img", "hr", "line", "rect"})

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, list[str]] = {}
        self.open: list[str | None] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.table: str | None = None
        self.cell: list[str] | None = None
        self.row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        ident = dict(attrs).get("id")
        self.open.append(ident)
        if ident:
            self.by_id.setdefault(ident, [])
        if tag == "table":
            self.table = ident
        elif tag == "tr" and self.table:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.table and self.row is not None:
            self.rows.setdefault(self.table, []).append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None
        if self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for ident in self.open:
            if ident:
                self.by_id[ident].append(data)
        if self.cell is not None:
            self.cell.append(data)


class Page:
    def __init__(self, status_code: int, body: str) -> None:
        self.status = status_code
        self.html = body
        parser = _Texts()
        parser.feed(body)
        self._p = parser
        self.text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())

    def of(self, ident: str) -> str:
        return " ".join("".join(self._p.by_id.get(ident, [])).split())

    def rows(self, table: str) -> list[list[str]]:
        """The body rows of a table (its header row left out)."""
        return self._p.rows.get(table, [])[1:]


@pytest.fixture(scope="module")
def client(web_ledger: WebLedger) -> Iterator[TestClient]:
    with TestClient(create_app(db.parse_db_url(web_ledger.view_url))) as c:
        yield c


def get(client: TestClient, path: str, **params: str) -> Page:
    r = client.get(path, params=params)
    return Page(r.status_code, r.text)


def test_home_lists_the_platforms_and_todays_counts(client: TestClient) -> None:
    page = get(client, "/")
    assert page.status == 200
    codes = [r[0] for r in page.rows("platforms")]
    assert len(codes) == 10 and "LS-KL-001" in codes
    assert PLATFORM_NEW_NAME in page.text
    assert "read-only" in page.text
    assert "lag the ledger" not in page.text  # caught up by the owner


def test_search_finds_platforms_and_units_by_chinese_and_former_names(client: TestClient) -> None:
    page = get(client, "/search", q="重点实验室")
    assert [r[0] for r in page.rows("platform-results")] == ["LS-KL-001", "LS-KL-002"]

    # a platform by the name it bore before its rename was approved
    page = get(client, "/search", q="高原生物重点")
    assert page.rows("platform-results") == [
        ["LS-KL-001", PLATFORM_NEW_NAME, PLATFORM_FORMER_NAME, "operating 运行期"]
    ]
    # traditional characters, full-width code
    assert [r[0] for r in get(client, "/search", q="高原生物與健康").rows("platform-results")] == [
        "LS-KL-001"
    ]
    assert [
        r[0] for r in get(client, "/search", q="ＬＳ－ＫＬ－００２").rows("platform-results")
    ] == ["LS-KL-002"]

    page = get(client, "/search", q=FORMER_NAME)  # the name it had before the rename
    units = page.rows("unit-results")
    assert units and units[0][:3] == [RENAMED_UNIT, NEW_NAME, FORMER_NAME]
    assert units[0][4] == "debarred"

    page = get(client, "/search", q="智造装备")
    assert [r[0] for r in page.rows("unit-results")][:1] == ["91540100MA6T0A0D35"]
    assert page.rows("unit-results")[0][5] == "blacklisted"

    page = get(client, "/search", q="没有这个名字的单位")
    assert "No platform matches." in page.text and "No unit matches." in page.text


def test_platform_timeline_with_as_of_and_known_at(client: TestClient) -> None:
    page = get(client, "/platform/LS-KL-001", as_of="2026-11-23")
    assert page.status == 200
    assert page.of("status").startswith("operating 运行期")
    rows = page.rows("timeline")
    assert [r[0] for r in rows][:3] == ["18", "19", "20"]
    approved = next(r for r in rows if r[2] == "Approved")
    assert approved[1] == "2024-03-01" and approved[3].startswith("demo-loader")
    assert approved[5] == "拉科发〔2024〕11号"
    assert any(r[6] == "003 art. 15" for r in rows)  # the basis column
    # a timeline: by effective date, whatever the order of recording (the
    # 2024 report was recorded after the 2026 allocation)
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert [int(r[0]) for r in rows] != sorted(int(r[0]) for r in rows)

    # the as-of date is a control: before approval, proposed, one event
    early = get(client, "/platform/LS-KL-001", as_of="2024-02-01")
    assert early.of("status").startswith("proposed 已申报")
    assert [r[2] for r in early.rows("timeline")] == ["Proposed"]

    # known-at is the second: before anything was recorded, nothing is known
    unknown = get(
        client, "/platform/LS-KL-001", as_of="2026-11-23", known_at="2001-01-01T00:00:00Z"
    )
    assert "not yet proposed" in unknown.of("missing")
    assert unknown.rows("timeline") == [["No event effective by then."]]
    later = get(client, "/platform/LS-KL-001", known_at="2999-01-01T00:00:00Z")
    assert len(later.rows("timeline")) == len(rows)


def test_funds_chart_and_table_per_year_and_category(client: TestClient) -> None:
    page = get(client, "/platform/LS-KL-001/funds", as_of="2026-11-23")
    assert page.status == 200
    assert page.rows("funds-table") == [
        ["2024", "subsidy 扶持资助", "500,000.00", "500,000.00", "0.00", "0.00",
         "500,000.00", "0.00"],
        ["2026", "operation 运行费", "300,000.00", "230,000.00", "80,000.00", "0.00",
         "150,000.00", "150,000.00"],
    ]  # fmt: skip
    bars = re.findall(
        r'<rect class="bar s-(\w+)"[^>]*data-year="(\d+)"[^>]*data-amount="([\d.]+)"', page.html
    )
    assert ("reversed", "2026", "80000.00") in bars and len(bars) == 8
    assert "<svg" in page.html and "paid 拨付" in page.text

    before = get(client, "/platform/LS-KL-001/funds", as_of="2024-01-01")
    assert "No money recorded" in before.text and "<svg" not in before.html
    known = get(client, "/platform/LS-KL-001/funds", known_at="2999-01-01T00:00:00Z")
    assert known.rows("funds-table") == page.rows("funds-table")


def test_debarred_and_blacklisted_on_a_date_with_their_end_dates(client: TestClient) -> None:
    page = get(client, "/barred", as_of="2026-11-23")
    debarred = {r[0]: r for r in page.rows("debarred")}
    assert debarred[RENAMED_UNIT][4] == "2031-03-10"  # its end date
    assert debarred[RENAMED_UNIT][7] == "拉科监〔2026〕2号"
    assert [r[0] for r in page.rows("blacklist")] == ["91540100MA6T0A0D35"]
    assert page.rows("blacklist")[0][3] == "no end (until removed)"

    before = get(client, "/barred", as_of="2025-01-01")
    assert before.rows("debarred") == [["Nobody is debarred on 2025-01-01."]]
    nothing_known = get(client, "/barred", as_of="2026-11-23", known_at="2001-01-01")
    assert nothing_known.rows("blacklist") == [["Nobody is on the blacklist on 2026-11-23."]]


def test_unit_page_shows_former_names_and_debarments(client: TestClient) -> None:
    page = get(client, f"/unit/{RENAMED_UNIT}", as_of="2026-11-23")
    assert NEW_NAME in page.text
    assert FORMER_NAME in page.of("former-names")
    assert page.rows("unit-debarments")[0][3] == "2031-03-10"
    renamed = [r for r in page.rows("timeline") if r[2].startswith("Renamed")]
    assert renamed and renamed[0][1] == "2026-09-01" and renamed[0][3].startswith("clerk-wang")


def test_chain_state_and_verification_on_request(client: TestClient) -> None:
    page = get(client, "/chain")
    assert page.of("verified-head") == f"seq {DEMO_EVENTS}"
    assert "none recorded" in page.of("last-checkpoint")
    assert "verify-result" not in page.html  # the full verification runs on request only
    verified = get(client, "/chain", verify="1")
    assert verified.of("verify-result") == f"Verified: all {DEMO_EVENTS} events chain correctly."


def test_bad_input_and_unknown_codes_are_one_clear_message(client: TestClient) -> None:
    bad = get(client, "/barred", as_of="2026-13-01")
    assert bad.status == 400 and "as-of date" in bad.of("error")
    bad = get(client, "/platform/LS-KL-001", known_at="yesterday")
    assert bad.status == 400 and "known-at" in bad.of("error")
    missing = get(client, "/platform/NO-SUCH-1")
    assert missing.status == 404 and "NO-SUCH-1" in missing.of("error")
    assert get(client, "/unit/91540100MA6T0A0XXX").status == 404
    assert get(client, "/nowhere").status == 404


def test_hostile_urls_are_a_clear_400_or_404_never_a_500(client: TestClient) -> None:
    for url, code, message in [
        ("/search?q=a%00b", 400, "invalid search"),
        ("/platform/LS%00X", 400, "invalid platform code"),
        ("/platform/LS%00X/funds", 400, "invalid platform code"),
        ("/unit/%00", 400, "invalid unit code"),
        ("/search?q=" + "%E9%AB%98" * 300, 400, "search too long: 300 characters"),
        ("/platform/LS-KL-001?as_of=2026-01-01%00", 400, "invalid as-of date"),
        ("/barred?known_at=%00", 400, "invalid known-at"),
        ("/platform/%FF", 404, "no platform"),
        ("/unit/%ED%B3%BF", 404, "no unit"),
    ]:
        r = client.get(url)
        page = Page(r.status_code, r.text)
        assert (page.status, message in page.of("error")) == (code, True), url
    assert client.get("/search?q=%FF%FE").status_code == 200


def _event_count(url: str) -> int:
    cfg = db.parse_db_url(url)
    with db.connect(cfg) as conn:
        row = db.fetchone(conn, "SELECT COUNT(*) AS n FROM event_chain")
    return int(row["n"]) if row else 0


def test_any_method_but_get_is_refused_and_nothing_is_written(
    client: TestClient, web_ledger: WebLedger
) -> None:
    before = _event_count(web_ledger.owner_url)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/", "/platform/LS-KL-001", "/chain", "/barred"):
            r = client.request(method, path, data={"as_of": "2026-01-01"})
            assert r.status_code == 405, (method, path)
            assert r.headers["allow"] == "GET, HEAD"
            assert "read-only" in r.text
    assert _event_count(web_ledger.owner_url) == before
    r = client.get("/")
    assert "script-src" not in r.headers["content-security-policy"]  # no script at all
    assert "<script" not in r.text


def test_the_views_connections_cannot_write(web_ledger: WebLedger) -> None:
    view = WebView(db.parse_db_url(web_ledger.view_url))
    with view.read() as rm, pytest.raises((psycopg.Error, sqlite3.Error)) as refused:
        db.execute(
            rm.conn,
            "INSERT INTO ledger_settings (key, value) VALUES ('default_policy', 'x')",
        )
    text = str(refused.value)
    if web_ledger.backend == "sqlite":
        assert "readonly database" in text
    else:
        assert "read-only transaction" in text
        # and under the auditor's role even a read-write transaction may not insert
        with db.connect(view.cfg) as conn:
            conn.execute("SET TRANSACTION READ WRITE")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO ledger_settings (key, value) VALUES ('k', 'v')")
        # the owner's URL given to the view still reads as the auditor
        as_owner = WebView(db.parse_db_url(web_ledger.owner_url))
        with as_owner.read() as rm:
            row = db.fetchone(rm.conn, "SELECT current_user AS u")
        assert row is not None and row["u"] == "ledger_auditors"
    assert _event_count(web_ledger.owner_url) == DEMO_EVENTS


def test_a_lagging_view_says_so_and_never_catches_up(web_ledger: WebLedger) -> None:
    """An event recorded while the read models do not follow (the service's
    catch-up hook not installed, no `projections follow`): the view says how
    far behind it is, answers as of the models' position, and leaves them there."""
    from ledger.reads import catch_up
    from ledger.service import LedgerService

    owner = db.parse_db_url(web_ledger.owner_url)
    new_unit = credit_code("91540100MA6TWEB01")
    svc = LedgerService(web_ledger.owner_url)  # no `install`: the models are not caught up
    try:
        svc.register_unit(
            new_unit,
            name="拉萨网页测试有限公司",
            unit_type="enterprise",
            high_tech=False,
            aliases=[],
            actor="clerk-web",
            on=date(2026, 11, 20),
        )
    finally:
        svc.close()
    try:
        positions = [r["position"] for r in status(owner)]
        with TestClient(create_app(db.parse_db_url(web_ledger.view_url))) as c:
            page = get(c, "/search", q="网页测试")
            unknown = get(c, f"/unit/{new_unit}")
        assert "The read models lag the ledger by 1 event(s)" in page.of("lag")
        assert page.rows("unit-results") == []  # answers as of the models' position
        assert unknown.status == 404
        assert [r["position"] for r in status(owner)] == positions  # untouched
    finally:
        catch_up(owner)  # the owner catches them up again
    assert _event_count(web_ledger.owner_url) == DEMO_EVENTS + 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["serve", "--host", "0.0.0.0"], 2, "not a loopback address"),
        (["serve", "--host", "192.0.2.1", "--port", "8999"], 2, "not a loopback address"),
        (["serve", "--port", "0"], 2, "--port"),
    ],
)
def test_serve_refuses_a_public_host_without_allow_remote(
    args: list[str], code: int, message: str, tmp_path: object
) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code
    assert message in result.stderr and "Traceback" not in result.stderr


def test_serve_refuses_a_missing_ledger_and_a_login_not_an_auditor(
    tmp_path: object, web_ledger: WebLedger
) -> None:
    from pathlib import Path

    missing = Path(str(tmp_path)) / "none.db"
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{missing}", "serve"])
    assert result.exit_code == 3 and "not initialised" in result.stderr
    assert not missing.exists()
    if web_ledger.backend == "postgres":
        clerk = as_login(web_ledger.owner_url, "ledger_clerk")
        result = CliRunner().invoke(main, ["--db", clerk, "serve"])
        assert result.exit_code == 3
        assert 'permission denied to set role "ledger_auditors"' in result.stderr


def test_the_chain_page_shows_the_last_recorded_checkpoint(
    web_ledger: WebLedger, client: TestClient
) -> None:
    """(Last in the module: it records a checkpoint, as the owner.)"""
    key = web_ledger.workdir / "auditor.pem"
    runner = CliRunner()
    made = runner.invoke(main, ["--db", web_ledger.owner_url, "audit", "keygen", "--out", str(key)])
    assert made.exit_code == 0, made.stderr
    key_id = made.stdout.split("key id:")[1].split()[0]
    signed = runner.invoke(
        main, ["--db", web_ledger.owner_url, "audit", "checkpoint", "--key", str(key)]
    )
    assert signed.exit_code == 0, signed.stderr
    head = _event_count(web_ledger.owner_url)
    page = get(client, "/chain", verify="1")
    assert page.of("last-checkpoint").startswith(f"seq {head}, signed ")
    assert page.of("last-checkpoint").endswith(f"by key {key_id}")
    assert page.of("verify-result") == f"Verified: all {head} events chain correctly."


def test_serve_refuses_a_port_in_use(web_ledger: WebLedger) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["--db", web_ledger.view_url, "serve", "--port", str(port)]
        )
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
