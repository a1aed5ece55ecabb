"""The read-only web view: a Starlette application over the read models.

Read-only by construction:

- every connection comes from ``cfg.reading_only()``: SQLite opened
  ``mode=ro`` with ``PRAGMA query_only``, PostgreSQL as ``ledger_auditors``
  in read-only transactions (``ledger.store.db``);
- it never catches the read models up (``open_read(..., catch=False)``): when
  they lag the ledger, every page says so;
- it answers GET (and HEAD) only: any other method is 405;
- it never imports the write side (``ledger.service``; tests/test_layers.py).

The queries are the command line's (``ledger.reads.ReadModels``): a page shows
what ``platform show``, ``history``, ``funds summary``, ``debarred``,
``blacklist`` and ``audit verify`` print.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from aggregates.errors import (
    DatabaseUnavailable,
    InvalidInput,
    LedgerError,
    NotFound,
    TamperDetected,
)
from aggregates.values import parse_date
from ledger import output
from ledger.clock import parse_timestamp, today
from ledger.reads import ReadModels, open_read, status
from ledger.store.db import DbConfig
from ledger.web import chart

# No script, nothing from elsewhere: the pages are HTML and inline CSS / SVG.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SEARCH_LIMIT = 20
MAX_TEXT = 200  # characters of a search or a code: longer is not a name


def clean(value: str, what: str) -> str:
    """A search text or a code from the URL, refused (400, one line) when it
    could be no name or code: too long, or holding a control character (a NUL,
    which PostgreSQL cannot even compare)."""
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} too long: {len(value)} characters (at most {MAX_TEXT})")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise InvalidInput(f"invalid {what} {value!r}: it holds a control character")
    return value


def _money(value: Any) -> str:
    if value is None:
        return "-"
    return f"{Decimal(value):,.2f}"


def _plain(value: Any) -> str:
    return output.plain(value)


def _labelled(value: Any) -> str:
    return output.labelled(value)


def _chinese(value: Any) -> str:
    """The Chinese label of a slug (a status, a category), or nothing."""
    return output.LABELS.get(output.plain(value), "")


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ledger.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["plain"] = _plain
    env.filters["labelled"] = _labelled
    env.filters["chinese"] = _chinese
    return Jinja2Templates(env=env)


class Params:
    """The date controls of a page: as-of (the business date, default today)
    and known-at (the moment of recording, optional), as given and as read."""

    def __init__(self, request: Request, as_of_name: str = "as_of") -> None:
        q = request.query_params
        self.as_of_text = (q.get(as_of_name) or "").strip()
        self.known_at_text = (q.get("known_at") or "").strip()
        self.as_of: date = (
            parse_date(self.as_of_text, what="as-of date") if self.as_of_text else today()
        )
        self.known_at: datetime | None = (
            parse_timestamp(self.known_at_text, "known-at") if self.known_at_text else None
        )

    def query(self) -> dict[str, str]:
        out = {"as_of": self.as_of.isoformat()}
        if self.known_at_text:
            out["known_at"] = self.known_at_text
        return out


class WebView:
    """The pages, over one ledger, read-only."""

    def __init__(self, cfg: DbConfig) -> None:
        self.cfg = cfg.reading_only()
        self.templates = _templates()

    # --- reading ---------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[ReadModels]:
        """The read models as they are (never caught up here)."""
        with open_read(self.cfg, catch=False) as rm:
            yield rm

    def lag(self) -> dict[str, int]:
        """The read models' position and the ledger's head, in seq numbers."""
        rows = status(self.cfg)
        head = max((int(r["head"]) for r in rows), default=0)
        position = min((int(r["position"]) for r in rows), default=0)
        return {"head": head, "position": position, "lag": max(0, head - position)}

    def page(self, request: Request, template: str, status_code: int = 200, **ctx: Any) -> Response:
        try:
            lag = self.lag()
        except LedgerError:
            lag = {"head": 0, "position": 0, "lag": 0}
        context = {"db": self.cfg.display_url, "today": today(), "lag": lag, **ctx}
        return self.templates.TemplateResponse(request, template, context, status_code=status_code)

    # --- pages -------------------------------------------------------------------------
    def home(self, request: Request) -> Response:
        day = today()
        with self.read() as rm:
            platforms = rm.platform_list(day)
            debarred = rm.debarred(day)
            blacklisted = rm.blacklist(day)
        return self.page(
            request,
            "home.html",
            platforms=platforms,
            n_debarred=len(debarred),
            n_blacklisted=len(blacklisted),
        )

    def search(self, request: Request) -> Response:
        text = clean((request.query_params.get("q") or "").strip(), "search")
        day = today()
        found_platforms: list[dict[str, Any]] = []
        found_units: list[dict[str, Any]] = []
        if text:
            with self.read() as rm:
                found_platforms = rm.platform_search(text, day)
                found_units = rm.unit_search(text, day)[:SEARCH_LIMIT]
        return self.page(
            request, "search.html", q=text, platforms=found_platforms, units=found_units
        )

    def platform(self, request: Request) -> Response:
        from projections.base import iso_ts
        from projections.history import HistoryFilter

        code = clean(request.path_params["code"], "platform code")
        p = Params(request)
        with self.read() as rm:
            if not rm.platform_exists(code):
                raise NotFound(f"no platform {code}")
            state: dict[str, Any] | None = None
            missing: str | None = None
            try:
                state = rm.platform_show(code, p.as_of, p.known_at)
            except NotFound as e:
                missing = e.message
            # a timeline: by effective date (then as chained)
            where = HistoryFilter(
                recorded_to=iso_ts(p.known_at) if p.known_at is not None else None,
                order="effective",
            )
            events = rm.history(aggregate="platform", code=code, until=p.as_of, where=where)
            names: dict[str, str] = {}
            if state is not None:
                for unit in [state["host_unit"], *state["co_builders"]]:
                    try:
                        names[unit] = str(rm.unit_show(unit, p.as_of, p.known_at)["name"])
                    except NotFound:
                        names[unit] = unit
        return self.page(
            request,
            "platform.html",
            code=code,
            p=p,
            state=state,
            missing=missing,
            events=events,
            names=names,
        )

    def funds(self, request: Request) -> Response:
        code = clean(request.path_params["code"], "platform code")
        p = Params(request)
        with self.read() as rm:
            if not rm.platform_exists(code):
                raise NotFound(f"no platform {code}")
            source = rm if p.known_at is None else rm.known_at(p.known_at)
            lines = source.funds_summary(p.as_of, platform=code)
            name = rm.platform_list(today())
        title = next((str(x["name"]) for x in name if x["code"] == code), code)
        return self.page(
            request,
            "funds.html",
            code=code,
            name=title,
            p=p,
            lines=lines,
            chart=chart.layout(lines),
        )

    def unit(self, request: Request) -> Response:
        from projections.base import iso_ts
        from projections.history import HistoryFilter

        code = clean(request.path_params["code"], "unit code")
        p = Params(request)
        with self.read() as rm:
            if not rm.unit_exists(code):
                raise NotFound(f"no unit {code}")
            state = rm.unit_show(code, p.as_of, p.known_at)
            # a timeline: by effective date (then as chained)
            where = HistoryFilter(
                recorded_to=iso_ts(p.known_at) if p.known_at is not None else None,
                order="effective",
            )
            events = rm.history(aggregate="unit", code=code, until=p.as_of, where=where)
        return self.page(request, "unit.html", code=code, p=p, state=state, events=events)

    def barred(self, request: Request) -> Response:
        p = Params(request)
        with self.read() as rm:
            source = rm if p.known_at is None else rm.known_at(p.known_at)
            debarred = source.debarred(p.as_of)
            blacklisted = source.blacklist(p.as_of)
        return self.page(request, "barred.html", p=p, debarred=debarred, blacklisted=blacklisted)

    def chain(self, request: Request) -> Response:
        from ledger.audit.checkpoints import list_checkpoints
        from projections.trusted import read_head

        run = request.query_params.get("verify") == "1"
        with self.read() as rm:
            seq, head_hash, broken = read_head(rm.conn)
        checkpoints = list_checkpoints(self.cfg)
        result: dict[str, Any] | None = None
        if run:
            from ledger.audit.verify import verify

            result = verify(self.cfg)
        return self.page(
            request,
            "chain.html",
            verified={"seq": seq, "chain_hash": head_hash, "broken": broken},
            checkpoint=checkpoints[-1] if checkpoints else None,
            n_checkpoints=len(checkpoints),
            result=result,
            models=status(self.cfg),
        )

    # --- errors --------------------------------------------------------------------------
    async def ledger_error(self, request: Request, exc: Exception) -> Response:
        code = 500
        if isinstance(exc, NotFound):
            code = 404
        elif isinstance(exc, InvalidInput):
            code = 400
        elif isinstance(exc, (DatabaseUnavailable, TamperDetected)):
            code = 503
        message = exc.message if isinstance(exc, LedgerError) else str(exc)
        return self.page(request, "error.html", status_code=code, message=message, code=code)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {
            404: "no such page",
            405: "this view is read-only: it answers GET only",
        }.get(code, exc.detail if isinstance(exc, HTTPException) else "error")
        response = self.page(request, "error.html", status_code=code, message=message, code=code)
        if code == 405:
            response.headers["Allow"] = "GET, HEAD"
        return response


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


def create_app(cfg: DbConfig) -> Starlette:
    """The web view of the ledger at `cfg`, every connection read-only."""
    view = WebView(cfg)
    get = ["GET"]
    routes = [
        Route("/", view.home, methods=get, name="home"),
        Route("/search", view.search, methods=get, name="search"),
        Route("/platform/{code}", view.platform, methods=get, name="platform"),
        Route("/platform/{code}/funds", view.funds, methods=get, name="funds"),
        Route("/unit/{code}", view.unit, methods=get, name="unit"),
        Route("/barred", view.barred, methods=get, name="barred"),
        Route("/chain", view.chain, methods=get, name="chain"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={LedgerError: view.ledger_error, HTTPException: view.http_error},
    )
