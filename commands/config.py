"""`ledger config show`: the settings this invocation runs with (database,
actor, format), where each came from, and the profiles of the config file."""

from __future__ import annotations

import click

from commands._common import Ctx, common, emit


@click.group()
def config() -> None:
    """Profiles and settings (a TOML file in the user's config directory)."""


@config.command("show")
@common()
def config_show(ctx: Ctx) -> None:
    """The settings in effect, each with its source (option, environment,
    profile, default), and the profiles the config file defines.

    \b
    Example:
      ledger --profile auditor config show
      LEDGER_PROFILE=clerk ledger config show --format json
    """
    from ledger.profiles import masked

    s = ctx.settings
    values = {"db": ctx.db, "actor": ctx.actor, "format": ctx.format}
    shown = {k: masked(v) if k == "db" else v for k, v in values.items()}
    sources = {k: (s.sources.get(k, "-") if s else "-") for k in values}
    profiles = s.profiles if s else []
    if ctx.format == "json":
        emit(
            ctx,
            {
                "config": str(s.path) if s else None,
                "profile": s.profile if s else None,
                "profiles": profiles,
                **{k: {"value": shown[k], "source": sources[k]} for k in values},
            },
        )
        return
    rows = [{"setting": k, "value": shown[k], "source": sources[k]} for k in values]
    if ctx.format == "table":
        click.echo(f"config file: {s.path if s else '-'}")
        defined = ", ".join(profiles) or "none"
        click.echo(f"profile: {(s.profile if s else None) or '(none)'} (defined: {defined})")
    emit(ctx, rows, ["setting", "value", "source"])
