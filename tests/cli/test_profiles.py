"""Profiles (issue 15): a TOML file in the user's config directory with
named profiles (database URL, actor, format); --profile NAME or
LEDGER_PROFILE picks one, the file's `default` otherwise; options and
environment variables still win; `ledger config show` says what is in
effect and where each setting came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for var in ("LEDGER_DB", "LEDGER_ACTOR", "LEDGER_PROFILE", "LEDGER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "xdg" / "ledger" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        'default = "clerk"\n\n'
        "[profiles.clerk]\n"
        f'db = "sqlite:///{tmp_path}/clerk.db"\n'
        'actor = "财务处 张三"\n\n'
        "[profiles.auditor]\n"
        f'db = "sqlite:///{tmp_path}/auditor.db"\n'
        'format = "json"\n',
        encoding="utf-8",
    )
    return tmp_path


def shown(*args: str, env: dict[str, str | None] | None = None) -> dict[str, object]:
    code, out, err = run(*args, "config", "show", "--format", "json", env=env)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_profiles_pick_the_database_actor_and_format(config: Path) -> None:
    default = shown()
    assert default["profile"] == "clerk" and default["profiles"] == ["auditor", "clerk"]
    assert default["db"] == {"value": f"sqlite:///{config}/clerk.db", "source": "profile clerk"}
    assert default["actor"] == {"value": "财务处 张三", "source": "profile clerk"}
    auditor = shown("--profile", "auditor")
    assert auditor["db"] == {
        "value": f"sqlite:///{config}/auditor.db",
        "source": "profile auditor",
    }
    assert auditor["actor"] == {"value": None, "source": "unset"}
    assert shown(env={"LEDGER_PROFILE": "auditor"})["profile"] == "auditor"
    # the profile's format applies: init on the auditor's database prints JSON
    code, out, err = run("--profile", "auditor", "config", "show")
    assert code == 0 and json.loads(out)["format"]["source"] == "profile auditor"
    assert (config / "auditor.db").exists() is False
    code, _, err = run("--profile", "auditor", "init")
    assert code == 0, err
    assert (config / "auditor.db").exists()


def test_options_and_environment_win(config: Path) -> None:
    env = shown(env={"LEDGER_DB": "sqlite:///env.db", "LEDGER_ACTOR": "env-actor"})
    assert env["db"] == {"value": "sqlite:///env.db", "source": "environment"}
    assert env["actor"] == {"value": "env-actor", "source": "environment"}
    opt = shown("--db", "sqlite:///opt.db", env={"LEDGER_DB": "sqlite:///env.db"})
    assert opt["db"] == {"value": "sqlite:///opt.db", "source": "option"}
    assert opt["format"] == {"value": "json", "source": "option"}


def test_bad_profiles_are_one_line_exit_2(config: Path) -> None:
    code, _, err = run("--profile", "nope", "config", "show")
    assert code == 2 and "no profile 'nope'" in err and "auditor, clerk" in err
    path = config / "xdg" / "ledger" / "config.toml"
    path.write_text("[profiles.x]\ndatabase = 1\n", encoding="utf-8")
    # the whole file is checked, whichever profile is chosen
    for args in ([], ["--profile", "x"]):
        code, _, err = run(*args, "config", "show")
        assert code == 2 and "unknown setting(s) database" in err, args
    path.write_text("not toml [", encoding="utf-8")
    code, _, err = run("config", "show")
    assert code == 2 and "not a valid TOML file" in err and len(err.strip().splitlines()) == 1


def test_passwords_are_not_shown(config: Path) -> None:
    data = shown("--db", "postgresql://clerk:s3cret@db.example/ledger")
    assert data["db"] == {"value": "postgresql://clerk:***@db.example/ledger", "source": "option"}
    code, out, _ = run("--db", "postgresql://clerk:s3cret@db.example/ledger", "config", "show")
    assert code == 0 and "s3cret" not in out
