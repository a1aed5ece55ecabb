"""The metadata every event carries (SPEC §3), a pydantic model: its own module,
so that what only reads (a query) loads no pydantic. ``CreditCode`` is the
credit-code type for pydantic fields."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from aggregates.values import validate_credit_code

CreditCode = Annotated[str, AfterValidator(validate_credit_code)]


class Meta(BaseModel):
    """Who recorded it, its business date, its document and why (SPEC §3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    actor: str
    effective_on: date
    doc_no: str | None = None
    reason: str | None = None
    basis: str | None = None
    # the effective date was not given (`--on`) but defaulted to today
    defaulted: bool = False

    def fields(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "effective_on": self.effective_on,
            "doc_no": self.doc_no,
            "reason": self.reason,
            "basis": self.basis,
        }

    def fingerprint(self) -> dict[str, Any]:
        """The fields as the user gave them, for a `--request-id` fingerprint: a
        date left to default to today is not part of the request, so a retry
        the next day is the same request (and replays the first answer)."""
        fields = self.fields()
        if self.defaulted:
            fields["effective_on"] = None
        return fields

    def derived(self, *, basis: str | None, reason: str | None = None) -> Meta:
        """The metadata of a consequence a policy derived from this decision."""
        return Meta(
            actor=self.actor,
            effective_on=self.effective_on,
            doc_no=self.doc_no,
            reason=reason if reason is not None else self.reason,
            basis=basis,
        )
