"""CLI.md's exit codes are the command line's mapping of the domain's errors
(cli.EXIT_CODES): the most specific class of an error's MRO decides."""

from __future__ import annotations

import pytest

from aggregates.errors import (
    AlreadyExists,
    CompositionRuleBroken,
    Conflict,
    DatabaseUnavailable,
    DateOrder,
    Discrepancy,
    FundingRefused,
    IllegalTransition,
    Ineligible,
    InvalidInput,
    LedgerError,
    NotFound,
    NotInitialised,
    OverAllocation,
    PlatformNotFound,
    RuleViolation,
    TamperDetected,
    UnitNotFound,
)
from cli import exit_code


class _Custom(InvalidInput):
    """A subclass defined elsewhere takes its base's code."""


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (LedgerError("x"), 1),
        (RuleViolation("x"), 1),
        (IllegalTransition("x"), 1),
        (DateOrder("x"), 1),
        (CompositionRuleBroken("x"), 1),
        (OverAllocation("x"), 1),
        (FundingRefused("x"), 1),
        (Ineligible("x"), 1),
        (NotFound("x"), 1),
        (PlatformNotFound("LS-KL-001"), 1),
        (UnitNotFound("91540100MA6T0A0B1W"), 1),
        (AlreadyExists("x"), 1),
        (Conflict("x"), 1),
        (Discrepancy("x"), 1),
        (InvalidInput("x"), 2),
        (_Custom("x"), 2),
        (DatabaseUnavailable("x"), 3),
        (NotInitialised("x"), 3),
        (TamperDetected("x"), 4),
    ],
)
def test_each_error_exits_with_the_code_cli_md_names(error: LedgerError, code: int) -> None:
    assert exit_code(error) == code


def test_the_domain_errors_carry_no_exit_code() -> None:
    assert not hasattr(LedgerError("x"), "exit_code")
    assert not hasattr(TamperDetected("x"), "exit_code")
