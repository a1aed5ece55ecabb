"""The recording commands of CLI.md as data: for each command name
(``"funds disburse"``), the `LedgerService` method the CLI calls and how each
of its arguments and options is read — the same parsing as the CLI's
(codes trimmed, unit codes upper-cased, dates ``YYYY-MM-DD``, amounts exact
yuan, never floats), so an imported line is the same call as the command.

Argument names are the CLI's option names (``doc-no``), with or without
leading dashes, with hyphens or underscores (``--doc-no``, ``doc_no``); the
service's own parameter name is accepted too (``unit-type`` beside ``type``).
Positional arguments are ``code`` (``CODE``), ``id`` (a change request's id)
and ``debarment-id``."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from copy import copy
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aggregates.errors import InvalidInput
from aggregates.values import parse_date, parse_money

if TYPE_CHECKING:
    from ledger.service import LedgerService, Result

# --- reading one value -----------------------------------------------------------------


def _text(value: Any, what: str) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(f"invalid {what} {value!r}: expected text")
    if isinstance(value, (str, int, Decimal)):
        return str(value)
    raise InvalidInput(f"invalid {what} {value!r}: expected text")


def _unit_code(value: Any, what: str) -> str:
    return _text(value, what).strip().upper()


def _platform_code(value: Any, what: str) -> str:
    return _text(value, what).strip()


def _date(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    return parse_date(_text(value, what), what=what)


def _money(value: Any, what: str) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput(f"invalid {what} {value!r}: floats are not money")
    return parse_money(_text(value, what), what=what)


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"invalid {what} {value!r}: expected a whole number")
    if isinstance(value, int):
        return value
    text = _text(value, what).strip()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if not text.lstrip("-").isdigit():
        raise InvalidInput(f"invalid {what} {value!r}: expected a whole number")
    return int(text)


def _flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidInput(f"invalid {what} {value!r}: expected true or false")


def _many(value: Any, what: str) -> list[Any]:
    """A repeatable option: a list, or one value."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _units(value: Any, what: str) -> list[str]:
    return [_unit_code(v, what) for v in _many(value, what)]


def _texts(value: Any, what: str) -> list[str]:
    return [_text(v, what) for v in _many(value, what)]


def _scopes(value: Any, what: str) -> list[str]:
    """``S[,S...]`` as the CLI takes it, or a list."""
    parts: list[str] = []
    for v in _many(value, what):
        parts.extend(s.strip() for s in _text(v, what).split(",") if s.strip())
    return parts


LIST_DETAILS = ("add", "remove", "consents")  # lists of units: repeats add up


def _details(value: Any, what: str) -> dict[str, str]:
    """``{"name": "…"}``, or the CLI's ``KEY=VALUE`` strings (a list or one)."""
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(v, (list, tuple)):
                out[str(k).strip()] = ",".join(_text(x, what) for x in v)
            else:
                out[str(k).strip()] = _text(v, what).strip()
        return out
    out = {}
    for p in _texts(value, what):
        if "=" not in p:
            raise InvalidInput(f"invalid {what} {p!r}: expected KEY=VALUE")
        k, v = p.split("=", 1)
        k, v = k.strip(), v.strip()
        if not k:
            raise InvalidInput(f"invalid {what} {p!r}: empty key")
        if k in out and k in LIST_DETAILS:
            out[k] = f"{out[k]},{v}"
        elif k in out:
            raise InvalidInput(f"{what} {k} is given twice ({out[k]!r} and {v!r})")
        else:
            out[k] = v
    return out


Reader = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Opt:
    """One option: the service's parameter, how its value is read, whether
    the CLI requires it, and the value when it is absent."""

    param: str
    read: Reader
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class Command:
    """One recording command: its service method and its arguments."""

    name: str
    method: str
    positional: tuple[tuple[str, Reader], ...]
    options: dict[str, Opt] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None


def _debar_check(kw: dict[str, Any]) -> None:
    if kw["years"] not in (3, 5):
        raise InvalidInput(f"invalid --years {kw['years']}: a debarment is for 3 or 5 years")


def _text_opt(param: str, required: bool = False) -> Opt:
    return Opt(param, _text, required)


CODE_U = (("code", _unit_code),)
CODE_P = (("code", _platform_code),)
CHANGE_ID = (("id", _platform_code),)
DOC = {"doc-no": _text_opt("doc_no", True)}
DOC_OPT = {"doc-no": _text_opt("doc_no")}
REASON = {"reason": _text_opt("reason", True)}
REASON_OPT = {"reason": _text_opt("reason")}
NO_POLICY = {"no-policy": Opt("no_policy", _flag, default=False)}

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "unit register",
            "register_unit",
            CODE_U,
            {
                "name": _text_opt("name", True),
                "type": _text_opt("unit_type", True),
                "high-tech": Opt("high_tech", _flag, default=False),
                "alias": Opt("aliases", _texts, default=[]),
                **DOC_OPT,
            },
        ),
        Command(
            "unit rename",
            "rename_unit",
            CODE_U,
            {"name": _text_opt("name", True), **DOC, **REASON_OPT},
        ),
        Command(
            "unit violation",
            "record_violation",
            CODE_U,
            {
                "kind": _text_opt("kind", True),
                "occurred-on": Opt("occurred_on", _date, True),
                **DOC,
                "platform": Opt("platform", _platform_code),
                **REASON_OPT,
                **NO_POLICY,
            },
        ),
        Command(
            "unit debar",
            "debar",
            CODE_U,
            {
                "years": Opt("years", _int, True),
                "from": Opt("start", _date, True),
                "scope": Opt("scopes", _scopes, True),
                **DOC,
                **REASON,
                "basis": _text_opt("basis"),
                "violation": Opt("violation", _platform_code),
            },
            check=_debar_check,
        ),
        Command(
            "unit lift",
            "lift",
            (*CODE_U, ("debarment-id", _platform_code)),
            {**DOC, **REASON},
        ),
        Command(
            "unit blacklist",
            "blacklist",
            CODE_U,
            {**DOC, **REASON, "basis": _text_opt("basis")},
        ),
        Command("unit unblacklist", "unblacklist", CODE_U, {**DOC, **REASON}),
        Command(
            "platform propose",
            "propose",
            CODE_P,
            {
                "name": _text_opt("name", True),
                "kind": _text_opt("kind", True),
                "level": _text_opt("level", True),
                "host": Opt("host", _unit_code, True),
                "co-builder": Opt("co_builders", _units, default=[]),
                "policy": _text_opt("policy"),
                "agreement-on": Opt("agreement_on", _date),
                **DOC_OPT,
                **REASON_OPT,
            },
        ),
        Command(
            "platform approve",
            "approve",
            CODE_P,
            {
                **DOC,
                "construction-years": Opt("construction_years", _int),
                "term-years": Opt("term_years", _int),
                **REASON_OPT,
            },
        ),
        Command("platform reject", "reject", CODE_P, {**DOC, **REASON}),
        Command("platform withdraw", "withdraw", CODE_P, {**REASON, **DOC_OPT}),
        Command("platform accept", "accept", CODE_P, {**DOC, **REASON_OPT}),
        Command("platform fail-acceptance", "fail_acceptance", CODE_P, {**DOC, **REASON}),
        Command(
            "platform evaluate",
            "evaluate",
            CODE_P,
            {
                "cycle": _text_opt("cycle", True),
                "grade": _text_opt("grade", True),
                **DOC,
                **REASON_OPT,
            },
        ),
        Command(
            "platform rectify",
            "rectify",
            CODE_P,
            {
                "passed": Opt("passed", _flag, default=False),
                "failed": Opt("failed", _flag, default=False),
                **DOC,
                **REASON_OPT,
                **NO_POLICY,
            },
        ),
        Command(
            "platform delist",
            "delist",
            CODE_P,
            {"reason-code": _text_opt("reason_code", True), **DOC, **REASON, **NO_POLICY},
        ),
        Command(
            "platform upgrade",
            "upgrade",
            CODE_P,
            {"level": _text_opt("level", True), **DOC, **REASON_OPT},
        ),
        Command(
            "platform report",
            "report",
            CODE_P,
            {"year": Opt("year", _int, True), **DOC_OPT},
        ),
        Command(
            "change request",
            "request_change",
            CODE_P,
            {
                "type": _text_opt("change_type", True),
                "detail": Opt("details", _details, default={}),
                **REASON,
                **DOC_OPT,
            },
        ),
        Command("change approve", "approve_change", CHANGE_ID, {**DOC, **REASON_OPT}),
        Command("change reject", "reject_change", CHANGE_ID, {**DOC, **REASON}),
        Command("change withdraw", "withdraw_change", CHANGE_ID, {**REASON}),
        Command(
            "funds allocate",
            "allocate",
            CODE_P,
            {
                "category": _text_opt("category", True),
                "amount": Opt("amount", _money, True),
                "fiscal-year": Opt("fiscal_year", _int, True),
                **DOC,
                "entitlement": _text_opt("entitlement"),
                **REASON_OPT,
            },
        ),
        Command(
            "funds disburse",
            "disburse",
            CODE_P,
            {
                "category": _text_opt("category", True),
                "amount": Opt("amount", _money, True),
                "fiscal-year": Opt("fiscal_year", _int, True),
                "voucher": _text_opt("voucher", True),
                **DOC_OPT,
                **REASON_OPT,
            },
        ),
        Command(
            "funds reverse",
            "reverse",
            CODE_P,
            {"voucher": _text_opt("voucher", True), **REASON, **DOC_OPT},
        ),
        Command(
            "funds recover",
            "recover",
            CODE_P,
            {
                "category": _text_opt("category", True),
                "fiscal-year": Opt("fiscal_year", _int, True),
                "amount": Opt("amount", _money, True),
                **DOC,
                **REASON,
            },
        ),
        Command("funds suspend", "suspend", CODE_P, {**DOC, **REASON}),
        Command("funds resume", "resume", CODE_P, {**DOC, **REASON_OPT}),
    )
}

# options every recording command takes (beside the global --actor)
RECORDING = {
    "on": Opt("on", _date),
    "actor": _text_opt("actor"),
    "request-id": _text_opt("request_id"),
}
POSITIONAL_ALIASES = {"change-id": "id", "debarment": "debarment-id", "unit": "code"}


@lru_cache(maxsize=4096)  # pure, and an import asks for the same few names on every line
def option_key(key: str) -> str:
    """``--doc-no``, ``doc_no``, ``Doc-No`` → ``doc-no``."""
    return str(key).strip().lstrip("-").strip().lower().replace("_", "-")


def command_name(name: Any) -> str:
    """``"funds disburse"``, ``"funds  disburse"``, ``"ledger funds disburse"``."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f'invalid command {name!r}: expected e.g. "funds disburse"')
    words = name.split()
    if words[0] == "ledger":
        words = words[1:]
    text = " ".join(words).lower().replace("_", "-")
    if text not in COMMANDS:
        close = difflib.get_close_matches(text, list(COMMANDS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see docs/IMPORT.md for the list"
        raise InvalidInput(f"unknown command {name!r}: not a recording command of CLI.md; {hint}")
    return text


def normalise_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments under their normalised names (a name given twice is refused)."""
    out: dict[str, Any] = {}
    for key, value in args.items():
        k = option_key(key)
        k = POSITIONAL_ALIASES.get(k, k)
        if k in out:
            raise InvalidInput(f"argument {k} is given twice")
        out[k] = value
    return out


@dataclass(frozen=True)
class Call:
    """A parsed line: the service method and its keyword arguments."""

    command: str
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def run(self, svc: LedgerService) -> Result:
        method: Callable[..., Result] = getattr(svc, self.method)
        return method(*self.args, **self.kwargs)


def parse_call(
    name: Any, args: Mapping[str, Any], *, actor: str | None, request_id: str | None
) -> Call:
    """The service call a line stands for, or `InvalidInput` naming what is wrong."""
    if not isinstance(args, Mapping):
        raise InvalidInput("args must be an object of the command's options")
    cmd = COMMANDS[command_name(name)]
    given = normalise_args(args)
    by_param = {o.param.replace("_", "-"): k for k, o in cmd.options.items()}
    positional: list[Any] = []
    for key, read in cmd.positional:
        if key not in given:
            raise InvalidInput(f"{cmd.name}: missing argument {key}")
        positional.append(read(given.pop(key), key))
    kwargs: dict[str, Any] = {}
    for key, value in given.items():
        opt_key = key if key in cmd.options else by_param.get(key)
        if opt_key is not None:
            opt = cmd.options[opt_key]
            kwargs[opt.param] = None if value is None else opt.read(value, f"--{opt_key}")
        elif key in RECORDING:
            opt = RECORDING[key]
            kwargs[opt.param] = None if value is None else opt.read(value, f"--{key}")
        else:
            known = [k for k, _ in cmd.positional] + list(cmd.options) + list(RECORDING)
            raise InvalidInput(f"{cmd.name}: unknown option {key!r}; it takes: {', '.join(known)}")
    for key, opt in cmd.options.items():
        if kwargs.get(opt.param) is None:
            if opt.required:
                raise InvalidInput(f"{cmd.name}: missing option --{key}")
            kwargs[opt.param] = copy(opt.default)
    if cmd.name == "platform rectify":
        passed, failed = kwargs.pop("passed"), kwargs.pop("failed")
        if passed == failed:
            raise InvalidInput("platform rectify: give exactly one of passed or failed")
        kwargs["passed"] = passed
    if cmd.check is not None:
        cmd.check(kwargs)
    line_actor = kwargs.pop("actor", None)
    kwargs["actor"] = line_actor or actor
    line_request = kwargs.pop("request_id", None)
    if line_request is not None and request_id is not None and line_request != request_id:
        raise InvalidInput("two different request ids on one line")
    kwargs["request_id"] = request_id or line_request
    return Call(cmd.name, cmd.method, tuple(positional), kwargs)
