"""Screening many names at once, shared by `unit search` and `debarred`:
the options (--file, --column, --threshold, --limit, --check) and the batch
run over the read models. Not a command group of its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click

from aggregates.errors import Ineligible, InvalidInput
from commands._common import Ctx, emit

F = TypeVar("F", bound=Callable[..., Any])

SCREEN_DEFAULT = ["line", "query", "verdict", "score", "code", "matched", "debarred", "blacklisted"]


def screening_options(f: F) -> F:
    f = click.option(
        "--check",
        is_flag=True,
        help="exit 1 when a name matches a debarred or blacklisted unit",
    )(f)
    f = click.option(
        "--limit", type=int, default=3, show_default=True, help="best matches kept per name"
    )(f)
    f = click.option(
        "--threshold",
        type=int,
        default=None,
        metavar="N",
        help="lowest score (0-100) that is a possible match (default 60; 90+ is a match)",
    )(f)
    f = click.option(
        "--column",
        default=None,
        metavar="NAME",
        help="the column of a CSV or XLSX file holding the names (default the first)",
    )(f)
    f = click.option(
        "--file",
        "names_file",
        default=None,
        metavar="FILE",
        help="screen every name in FILE (one a line, or a CSV/XLSX column; - for stdin)",
    )(f)
    return f


def valid_threshold(threshold: int | None) -> int | None:
    if threshold is not None and not 0 < threshold <= 100:
        raise InvalidInput(f"invalid --threshold {threshold}: expected 1 to 100")
    return threshold


def screen_batch(
    ctx: Ctx,
    rm: Any,
    source: str,
    column: str | None,
    day: date,
    *,
    threshold: int | None,
    limit: int,
    among: set[str] | None = None,
) -> list[dict[str, Any]]:
    from ledger.names_file import read_names
    from projections.name_match import SEARCH_THRESHOLD

    if limit < 1:
        raise InvalidInput(f"invalid --limit {limit}: expected 1 or more")
    start, names = read_names(source, column)
    return rm.screen(  # type: ignore[no-any-return]
        names,
        day,
        threshold=threshold or SEARCH_THRESHOLD,
        limit=limit,
        among=among,
        start=start,
    )


def print_screening(ctx: Ctx, rows: list[dict[str, Any]], check: bool) -> None:
    from projections.screening import SCREEN_COLUMNS

    emit(ctx, rows, list(SCREEN_COLUMNS), default=SCREEN_DEFAULT)
    hits = sorted(
        {
            f"{r['query']} → {r['code']}"
            for r in rows
            if r["verdict"] == "match" and (r["debarred"] or r["blacklisted"])
        }
    )
    if check and hits:
        raise Ineligible(
            f"{len(hits)} name(s) match a debarred or blacklisted unit: {'; '.join(hits[:5])}"
        )
