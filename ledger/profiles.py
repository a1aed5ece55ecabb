"""Named profiles: a TOML file in the user's config directory
($XDG_CONFIG_HOME/ledger/config.toml, else ~/.config/ledger/config.toml;
LEDGER_CONFIG names another) holding settings per profile (database URL,
actor, output format), so that switching between the clerk's and the
auditor's database is `--profile auditor` (or LEDGER_PROFILE=auditor):

    default = "clerk"

    [profiles.clerk]
    db = "postgresql://clerk@db.example/ledger"
    actor = "财务处 张三"

    [profiles.auditor]
    db = "postgresql://ledger_auditor@db.example/ledger"
    format = "json"

A setting given as an option or an environment variable (LEDGER_DB,
LEDGER_ACTOR) wins over the profile's; the profile's over the defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aggregates.errors import InvalidInput

KEYS = ("db", "actor", "format")
FORMATS = ("table", "json", "csv")


def config_path() -> Path:
    explicit = os.environ.get("LEDGER_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ledger" / "config.toml"


@dataclass
class Settings:
    """The settings of one invocation and where each came from."""

    values: dict[str, str | None]
    sources: dict[str, str]
    profile: str | None = None
    path: Path = field(default_factory=config_path)
    profiles: list[str] = field(default_factory=list)


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{path}: not a valid TOML file ({e})") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise InvalidInput(f"{path}: [profiles.NAME] tables expected")
    for name, p in profiles.items():
        unknown = sorted(set(p) - set(KEYS))
        if unknown:
            raise InvalidInput(
                f"{path}: profile {name!r} has unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(KEYS)}"
            )
        if p.get("format") is not None and p["format"] not in FORMATS:
            raise InvalidInput(
                f"{path}: profile {name!r}: format {p['format']!r} is not one of "
                + ", ".join(FORMATS)
            )
    return data


def resolve(
    profile: str | None,
    given: dict[str, str | None],
    env: dict[str, str | None],
    defaults: dict[str, str | None],
) -> Settings:
    """Each setting from the first that has it: the option (`given`), the
    environment (`env`), the profile (--profile, LEDGER_PROFILE, or the
    file's `default`), the defaults."""
    path = config_path()
    data = load(path)
    profiles = data.get("profiles", {})
    name = profile or os.environ.get("LEDGER_PROFILE") or data.get("default")
    chosen: dict[str, Any] = {}
    if name:
        if name not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise InvalidInput(f"no profile {name!r} in {path} (profiles: {known})")
        chosen = profiles[name]
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for key in KEYS:
        for source, table in (
            ("option", given),
            ("environment", env),
            (f"profile {name}", chosen),
            ("default", defaults),
        ):
            if table.get(key) not in (None, ""):
                values[key], sources[key] = str(table[key]), source
                break
        else:
            values[key], sources[key] = None, "unset"
    return Settings(values, sources, name, path, sorted(profiles))


def masked(url: str | None) -> str | None:
    """A database URL with its password hidden."""
    if not url or "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
