"""`ledger serve`: the read-only web view (docs/WEB.md)."""

from __future__ import annotations

import ipaddress
import socket

import click

from aggregates.errors import InvalidInput
from commands._common import Ctx, common

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_port_free(host: str, port: int) -> None:
    """Refuse (exit 2, one line) a host:port this machine cannot listen on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]"), port))
        except OSError as e:
            raise InvalidInput(
                f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --host/--port"
            ) from None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--allow-remote",
    is_flag=True,
    help="allow a --host other than loopback (the view has no login: anyone who can "
    "reach it reads the whole ledger)",
)
@common(prints=False)
def serve(ctx: Ctx, host: str, port: int, allow_remote: bool) -> None:
    """A read-only web view of the ledger for auditors and compliance officers:
    search, platform timelines, funds charts, the debarred and blacklisted on a
    date, the chain's state.

    It never writes: SQLite is opened read-only, PostgreSQL as the auditor
    role (give a login that is a member of ledger_auditors, e.g.
    postgresql://ledger_auditor@host/db). It never catches the read models up;
    when they lag, each page says so.

    \b
    Example:
      ledger serve
      ledger --db postgresql://ledger_auditor@127.0.0.1/ledger serve --port 8080
    """
    if not is_loopback(host) and not allow_remote:
        raise InvalidInput(
            f"--host {host} is not a loopback address: the view has no login, so anyone "
            "who can reach it reads the whole ledger; add --allow-remote to mean it"
        )
    from ledger.store import db

    cfg = db.parse_db_url(ctx.db).reading_only()
    db.ensure_ready(cfg)  # not initialised / unreachable / not the auditor: exit 3 now
    check_port_free(host, port)

    import uvicorn

    from ledger.web.app import create_app

    app = create_app(cfg)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving {cfg.display_url} read-only at http://{shown}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning", access_log=False)
