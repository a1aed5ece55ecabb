"""One error hierarchy for the whole product.

Every error carries the exit code CLI.md names for it and a message that is the
one line a user sees. A rule that refuses names the rule and its article.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the product reports to a user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- exit 1: refused by a rule -------------------------------------------------


class RuleViolation(LedgerError):
    """A business rule refused the command."""

    exit_code = 1

    def __init__(self, message: str, *, rule: str | None = None, basis: str | None = None):
        if basis:
            message = f"{message} ({basis})"
        super().__init__(message)
        self.rule = rule
        self.basis = basis


class IllegalTransition(RuleViolation):
    pass


class DateOrder(RuleViolation):
    """A well-formed date the rules refuse: before the platform's last change of
    state (SPEC §3), before its proposal, before the thing it decides."""


class CompositionRuleBroken(RuleViolation):
    pass


class OverAllocation(RuleViolation):
    pass


class FundingRefused(RuleViolation):
    pass


class Ineligible(RuleViolation):
    pass


class NotFound(LedgerError):
    exit_code = 1


class PlatformNotFound(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown platform {code}")
        self.code = code


class UnitNotFound(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown unit {code}")
        self.code = code


class AlreadyExists(LedgerError):
    exit_code = 1


class Conflict(LedgerError):
    """Concurrent writers kept colliding, or a request id was reused with other arguments."""

    exit_code = 1


class Discrepancy(LedgerError):
    """`--fail-on-discrepancy` / `--check` style refusals."""

    exit_code = 1


# --- exit 2: bad usage or invalid input -------------------------------------


class InvalidInput(LedgerError):
    exit_code = 2


# --- exit 3: database unreachable or not initialised --------------------------


class DatabaseUnavailable(LedgerError):
    exit_code = 3


class NotInitialised(DatabaseUnavailable):
    pass


# --- exit 4: verification found tampering -------------------------------------


class TamperDetected(LedgerError):
    exit_code = 4
