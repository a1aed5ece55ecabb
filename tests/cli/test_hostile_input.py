"""Hostile input is inert (issue 12): output files never replace the ledger, an
existing file or a directory; spreadsheet cells never become formulas; control
and bidi characters are shown escaped; NUL and invalid UTF-8 are refused with
exit 2; and a fuzz over every command, in-process through click's CliRunner,
finds no traceback, no exit code outside the contract, no two-line error and no
write by a refused command. SQLite only (the fuzz is about input, not storage).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main
from ledger.output import spreadsheet_text, terminal_safe
from tests.scenario import BIO, funded, init_ledger, register_all

PLATFORM = "LS-KL-001"


def _events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM event_chain").fetchone()[0])


def _checkpoints(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM audit_checkpoints").fetchone()[0])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with every unit registered and one funded platform, made once."""
    from ledger.service import LedgerService

    os.environ.setdefault("LEDGER_TODAY", "2026-11-23")
    path = tmp_path_factory.mktemp("hostile") / "template.db"
    url = f"sqlite:///{path}"
    init_ledger(url)
    svc = LedgerService(url)
    try:
        register_all(svc)
        funded(svc)
    finally:
        svc.close()
    return path


@pytest.fixture
def ledger_db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the template, the working directory a scratch directory."""
    db = tmp_path / "ledger.db"
    shutil.copy(template, db)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield db


def run(db: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", f"sqlite:///{db}", *args])


def one_line_error(result: Any) -> str:
    err = str(result.stderr)
    assert len(err.strip().splitlines()) <= 1, err
    return err


# --- output files ------------------------------------------------------------------------


def test_an_out_file_never_replaces_the_ledger_even_with_force(
    ledger_db: Path, tmp_path: Path
) -> None:
    before = ledger_db.read_bytes()
    link = tmp_path / "link.db"
    link.symlink_to(ledger_db)
    hard = tmp_path / "hard.db"
    os.link(ledger_db, hard)
    targets = [str(ledger_db), str(link), str(hard), f"{ledger_db}-wal", f"{ledger_db}-shm"]
    targets.append(os.path.relpath(ledger_db))
    for target in targets:
        for force in ([], ["--force"]):
            r = run(ledger_db, "audit", "export", "--out", target, *force)
            assert r.exit_code == 2, (target, r.stderr)
            assert "ledger's own database file" in one_line_error(r)
    r = run(ledger_db, "audit", "keygen", "--out", str(tmp_path / "k.pem"))
    assert r.exit_code == 0, r.stderr
    cps = _checkpoints(ledger_db)
    r = run(ledger_db, "audit", "checkpoint", "--key", str(tmp_path / "k.pem"), "--out", str(hard))
    assert r.exit_code == 2 and "ledger's own" in one_line_error(r)
    assert _checkpoints(ledger_db) == cps
    assert ledger_db.read_bytes() == before


def test_an_existing_out_file_is_replaced_only_with_force(ledger_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    out.write_text("keep me\n")
    r = run(ledger_db, "audit", "export", "--out", str(out))
    assert r.exit_code == 2 and "--force" in one_line_error(r)
    assert out.read_text() == "keep me\n"
    r = run(ledger_db, "audit", "export", "--out", str(out), "--force")
    assert r.exit_code == 0, r.stderr
    assert out.read_text().startswith("{")


@pytest.mark.parametrize("bad", ["", " ", "DIR", "DIR/", "missing/x.json"])
def test_an_empty_or_directory_out_is_exit_2_before_a_checkpoint_is_recorded(
    ledger_db: Path, tmp_path: Path, bad: str
) -> None:
    (tmp_path / "DIR").mkdir()
    target = bad if bad.strip() == "" else str(tmp_path / bad)
    assert run(ledger_db, "audit", "keygen", "--out", str(tmp_path / "k.pem")).exit_code == 0
    cps = _checkpoints(ledger_db)
    for args in (
        ["audit", "checkpoint", "--key", str(tmp_path / "k.pem"), "--out", target, "--force"],
        ["audit", "export", "--out", target, "--force"],
        ["audit", "keygen", "--out", target],
    ):
        r = run(ledger_db, *args)
        assert r.exit_code == 2, (args, r.stderr)
        assert not one_line_error(r).startswith("error: unexpected ")
    assert _checkpoints(ledger_db) == cps


# --- spreadsheet cells -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+1", "'+1+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.50", "-12.50"),  # a negative amount stays a number
        ("12.50", "12.50"),
        ("plain", "plain"),
    ],
)
def test_a_cell_that_would_be_a_formula_is_written_as_text(cell: str, written: str) -> None:
    assert spreadsheet_text(cell) == written


def test_a_formula_in_a_recorded_name_is_text_in_the_csv(ledger_db: Path) -> None:
    from tests.scenario import credit_code

    code = credit_code("91540100MA6T0C0C1")
    name = '=HYPERLINK("http://evil","click")'
    r = run(ledger_db, "unit", "register", code, "--name", name, "--type", "enterprise")
    assert r.exit_code == 0, r.stderr
    r = run(ledger_db, "unit", "show", code, "--format", "csv")
    assert r.exit_code == 0, r.stderr
    cells = [c for row in csv.reader(io.StringIO(r.stdout)) for c in row]
    assert "'" + name in cells
    assert name not in cells


# --- control characters, NUL, invalid UTF-8 ----------------------------------------------


def test_control_and_bidi_characters_are_shown_escaped_json_stays_exact(ledger_db: Path) -> None:
    from tests.scenario import credit_code

    code = credit_code("91540100MA6T0C0C2")
    name = "A\x1b[31mB\rforged\u202eC\x07"
    r = run(ledger_db, "unit", "register", code, "--name", name, "--type", "enterprise")
    assert r.exit_code == 0, r.stderr
    for args in (["unit", "show", code], ["history", "--unit", code]):
        shown = run(ledger_db, *args)
        assert shown.exit_code == 0
        for raw in ("\x1b", "\r", "\u202e", "\x07"):
            assert raw not in shown.stdout
    shown = run(ledger_db, "unit", "show", code)
    assert "\\x1b[31mB\\rforged\\u202eC\\x07" in shown.stdout
    js = run(ledger_db, "unit", "show", code, "--format", "json")
    import json

    assert json.loads(js.stdout)["name"] == name


def test_terminal_safe() -> None:
    assert terminal_safe("a\nb\tc\x1b\x9b\u2066d\u200f") == "a\\nb\\tc\\x1b\\x9b\\u2066d\\u200f"
    assert terminal_safe("拉萨 plain") == "拉萨 plain"


@pytest.mark.parametrize(
    "value",
    ["A\x00B", "x\udcff", "\ud800"],
    ids=["nul", "invalid-utf8", "lone-surrogate"],
)
def test_text_the_database_cannot_store_is_refused_with_exit_2_and_nothing_recorded(
    ledger_db: Path, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.scenario import credit_code

    code = credit_code("91540100MA6T0C0C3")
    before = _events(ledger_db)
    for args in (
        ["unit", "register", code, "--name", value, "--type", "enterprise"],
        ["unit", "register", code, "--name", "n", "--type", "enterprise", "--doc-no", value],
        ["--actor", value, "unit", "register", code, "--name", "n", "--type", "enterprise"],
    ):
        r = run(ledger_db, *args)
        assert r.exit_code == 2, (args, r.stderr)
        assert "\x00" not in r.stderr
        one_line_error(r)
    if value == "x\udcff":  # (an environment holds bytes: no NUL, no lone surrogate)
        monkeypatch.setenv("LEDGER_ACTOR", value)
        r = run(ledger_db, "unit", "register", code, "--name", "n", "--type", "enterprise")
        assert r.exit_code == 2
    assert _events(ledger_db) == before


def test_a_newline_in_an_argument_never_makes_a_two_line_error(ledger_db: Path) -> None:
    for args in (
        ["platform", "show", "LS\nKL\r001"],
        ["unit", "show", "9154\n0100"],
        ["history", "--since", "2026\n01-01"],
        ["funds", "disburse", PLATFORM, "--amount", "1\n2", "--category", "operation"],
        ["no\nsuch"],
    ):
        r = run(ledger_db, *args)
        assert r.exit_code == 2, (args, r.stderr)
        one_line_error(r)


@pytest.mark.parametrize(
    "args",
    [
        ["unit", "show", BIO, "--known-at", "0001-01-01T00:00:00-23:59"],
        ["unit", "show", BIO, "--known-at", "0001-01-01T00:00:00+23:59"],
        ["platform", "show", PLATFORM, "--known-at", "9999-12-31T23:59:59+00:00"],
        ["platform", "show", PLATFORM, "--known-at", "9999-12-31T23:59:59-23:59"],
        ["unit", "show", BIO, "--known-at", "0001-01-01T00:00:00"],
        ["platform", "show", PLATFORM, "--known-at", "0001-01-01T00:00:00"],
        ["audit", "export", "--out", "x.jsonl", "--since", "99999999999999999999"],
        ["audit", "export", "--out", "x.jsonl", "--since", "-1"],
        ["history", "--since", "0001-01-01"],
        ["history", "--until", "9999-12-31"],
        ["funds", "summary", "--fiscal-year", "99999999999999999999"],
        ["funds", "summary", "--as-of", "9999-12-31"],
        ["eligibility", BIO, "--as-of", "9999-12-31"],
        ["compliance", "overdue", "--as-of", "0001-01-01"],
        ["funds", "allocate", PLATFORM, "--category", "operation", "--amount", "1e400"],
        ["funds", "allocate", PLATFORM, "--category", "operation", "--amount", "9" * 40],
    ],
)
def test_far_dates_and_huge_numbers_are_a_clear_exit_code(ledger_db: Path, args: list[str]) -> None:
    before = _events(ledger_db)
    r = run(ledger_db, *args)
    assert r.exit_code in (0, 1, 2, 3), (args, r.stderr, r.exception)
    assert not r.stderr.startswith("error: unexpected ") and "Traceback" not in r.stderr
    if r.exit_code != 0:
        one_line_error(r)
        assert _events(ledger_db) == before


# --- the fuzz ---------------------------------------------------------------------------


def _leaves(group: click.Group, ctx: click.Context, path: tuple[str, ...]) -> Iterator[Any]:
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None:
            continue
        if isinstance(cmd, click.Group):
            yield from _leaves(cmd, ctx, (*path, name))
        else:
            yield (*path, name), cmd


with click.Context(main) as _ctx:
    assert isinstance(main, click.Group)
    LEAVES: list[tuple[tuple[str, ...], click.Command]] = sorted(
        _leaves(main, _ctx, ()), key=lambda leaf: leaf[0]
    )
# `demo` records a whole demonstration ledger per example: fuzzed through its options only
SLOW = {("demo",), ("projections", "rebuild"), ("projections", "verify")}
# the catch-up worker runs until stopped: fuzzed with a short idle exit last
# (click keeps an option's last value), so that every case ends
# and the web view serves until stopped: fuzzed last with the loopback host and
# a port this module holds, so that it is always refused (port in use, exit 2)
# after its other options are checked, and never starts serving
_HELD_PORT = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
_HELD_PORT.bind(("127.0.0.1", 0))
_HELD_PORT.listen(1)
WORKERS = {
    ("projections", "follow"): ["--idle-exit", "0.1"],
    ("serve",): ["--host", "127.0.0.1", "--port", str(_HELD_PORT.getsockname()[1])],
}

HOSTILE = [
    "",
    " ",
    "-",
    "--",
    "0",
    "-1",
    "1e400",
    "NaN",
    "Infinity",
    "9" * 30,
    "-" + "9" * 30,
    "0.001",
    "1,000.00",
    "１２３",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "2026-02-30",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59-23:59",
    '=HYPERLINK("http://x")',
    "+1",
    "@x",
    "a\nb",
    "a\rb",
    "\x1b[2J",
    "\u202eevil",
    "A\x00B",
    "x\udcff",
    "/",
    ".",
    "ledger.db",
    "../ledger.db",
    "LS-KL-001",
    "ls-kl-001",
    BIO,
    "2026",
    "2026-03-15",
    "100.00",
    "operation",
    "key-laboratory",
    "national",
    "enterprise",
    "PZ-1",
    "拉萨",
    "%s%n",
    "' OR 1=1 --",
]
VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=12),
    st.integers().map(str),
)


def _args_for(cmd: click.Command) -> st.SearchStrategy[list[str]]:
    options: list[tuple[str, bool]] = []
    n_args = 0
    for p in cmd.params:
        if isinstance(p, click.Option) and p.opts[0] not in ("--db",):
            options.append((p.opts[0], bool(p.is_flag)))
        elif isinstance(p, click.Argument):
            n_args += 1 if p.nargs == 1 else 2

    def build(positional: list[str], chosen: list[tuple[str, bool, str]]) -> list[str]:
        out = list(positional)
        for name, flag, value in chosen:
            out += [name] if flag else [name, value]
        return out

    picks = (
        st.lists(
            st.tuples(st.sampled_from(options), VALUES).map(lambda t: (t[0][0], t[0][1], t[1])),
            max_size=6,
        )
        if options
        else st.just([])
    )
    return st.builds(build, st.lists(VALUES, min_size=0, max_size=n_args + 1), picks)


# built once per command (building strategies per example is most of the cost)
ARGS: dict[tuple[str, ...], st.SearchStrategy[list[str]]] = {
    path: _args_for(cmd) for path, cmd in LEAVES
}
CASES = st.sampled_from(sorted(ARGS)).flatmap(lambda path: st.tuples(st.just(path), ARGS[path]))

FUZZ_EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "10500"))


def test_fuzzing_every_command_no_traceback_exit_codes_in_contract_refusals_write_nothing(
    ledger_db: Path,
) -> None:
    seen: Counter[int] = Counter()
    commands: Counter[str] = Counter()
    failures: list[str] = []
    count = [_events(ledger_db)]  # events recorded so far (changes only on success)

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(CASES)
    def one(case: tuple[tuple[str, ...], list[str]]) -> None:
        path, args = case
        if path in SLOW and any(not a.startswith("-") for a in args):
            return
        before = count[0]
        r = run(ledger_db, *path, *args, *WORKERS.get(path, []))
        seen[r.exit_code] += 1
        commands[" ".join(path)] += 1
        problem = None
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            problem = f"raised {type(r.exception).__name__}: {r.exception}"
        elif r.exit_code not in (0, 1, 2, 3, 4):
            problem = f"exit {r.exit_code}"
        elif "Traceback" in r.stderr or "Traceback" in r.stdout:
            problem = "traceback"
        elif r.stderr.startswith("error: unexpected "):
            problem = "unexpected error"
        elif r.exit_code != 0 and len(r.stderr.strip().splitlines()) > 1:
            problem = "more than one line on stderr"
        elif r.exit_code != 0 and _events(ledger_db) != before:
            problem = "a refused command recorded something"
        if r.exit_code == 0:
            count[0] = _events(ledger_db)
        if problem is not None:
            failures.append(f"{problem}: ledger {' '.join(path)} {args!r} -> {r.stderr!r}")
        assert problem is None, failures[-1]

    one()
    total = sum(seen.values())
    print(
        f"\nfuzz: {total} invocations over {len(commands)} of {len(LEAVES)} commands; "
        f"exit codes {dict(sorted(seen.items()))}; failures {len(failures)}"
    )
    assert failures == []
    assert set(seen) <= {0, 1, 2, 3, 4}
    assert total >= FUZZ_EXAMPLES * 0.9
    if FUZZ_EXAMPLES >= 5000:  # every command is drawn
        assert len(commands) >= len(LEAVES) - len(SLOW)
