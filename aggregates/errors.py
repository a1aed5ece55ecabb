"""One error hierarchy for the whole product.

Every error carries a message that is the one line a user sees. A rule that
refuses names the rule and its article. The exit code CLI.md names for each
kind of error is the command line's business (cli.EXIT_CODES).
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the product reports to a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- refused by a rule (exit 1) -------------------------------------------------


class RuleViolation(LedgerError):
    """A business rule refused the command."""

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
    """An aggregate the command names does not exist."""


class PlatformNotFound(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown platform {code}")
        self.code = code


class UnitNotFound(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown unit {code}")
        self.code = code


class AlreadyExists(LedgerError):
    """What the command would create is already there."""


class Conflict(LedgerError):
    """Concurrent writers kept colliding, or a request id was reused with other arguments."""


class Discrepancy(LedgerError):
    """`--fail-on-discrepancy` / `--check` style refusals."""


# --- bad usage or invalid input (exit 2) -------------------------------------


class InvalidInput(LedgerError):
    """A value that is not well formed, or a combination of options that makes no sense."""


# --- database unreachable or not initialised (exit 3) --------------------------


class DatabaseUnavailable(LedgerError):
    """The database cannot be reached, or has no ledger schema."""


class NotInitialised(DatabaseUnavailable):
    pass


# --- verification found tampering (exit 4) -------------------------------------


class TamperDetected(LedgerError):
    """The hash chain or a checkpoint does not hold: the history was altered."""
