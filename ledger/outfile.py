"""Where a command may write a file (`--out`): checked before anything is done
or recorded, so that a bad target is exit 2 with nothing written anywhere.

- an empty name, a directory, a missing or unwritable directory: refused;
- the SQLite ledger itself (its file, `-wal`, `-shm`, `-journal`, through any
  symlink or hard link): refused always, `--force` or not;
- an existing file: refused unless the command was given `--force`.
"""

from __future__ import annotations

import os
from pathlib import Path

from aggregates.errors import InvalidInput

# the files SQLite keeps beside a database
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def ledger_files(db_url: str | None) -> list[Path]:
    """The SQLite ledger's files (absolute), or none for PostgreSQL / no URL."""
    if not db_url:
        return []
    try:
        from ledger.store.db import parse_db_url

        cfg = parse_db_url(db_url)
    except Exception:  # a bad URL is reported by the command itself
        return []
    if cfg.backend != "sqlite" or cfg.sqlite_path is None:
        return []
    base = cfg.sqlite_abspath
    return [base.with_name(base.name + side) for side in SQLITE_SIDE_FILES]


def _is_ledger(target: Path, ledger: list[Path]) -> bool:
    resolved = Path(os.path.realpath(target))
    for f in ledger:
        if resolved == Path(os.path.realpath(f)):
            return True
        try:
            if target.exists() and f.exists() and os.path.samefile(target, f):
                return True
        except OSError:
            continue
    return False


def check_out(path: str, *, db_url: str | None, force: bool = False, what: str = "--out") -> Path:
    """Refuse (InvalidInput, exit 2) a target that must not be written; return it.

    Call it before the command does its work (and before anything is recorded)."""
    if not path or not path.strip():
        raise InvalidInput(f"invalid {what} {path!r}: give a file name")
    target = Path(path)
    if _is_ledger(target, ledger_files(db_url)):
        raise InvalidInput(
            f"refusing {what} {path}: it is the ledger's own database file "
            "(never written, not even with --force)"
        )
    parent = target.parent
    reason = None
    if target.is_dir() or path.endswith(("/", os.sep)):
        reason = "it is a directory"
    elif not parent.exists():
        reason = f"directory {parent} does not exist"
    elif not parent.is_dir():
        reason = f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        reason = f"directory {parent} is not writable"
    elif target.exists() or target.is_symlink():
        if not force:
            raise InvalidInput(
                f"refusing {what} {path}: the file exists; give --force to replace it"
            )
        if target.exists() and not os.access(target, os.W_OK):
            reason = "the file is not writable"
    if reason is not None:
        raise InvalidInput(f"cannot write {what} {path}: {reason}")
    return target
