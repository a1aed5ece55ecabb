"""The Voucher aggregate: one per voucher number, so that a voucher is used for
one payment in the whole ledger (SPEC §6), whatever its case or width. It is
created in the same atomic save as the payment; a second payment with the same
voucher collides with it."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from aggregates.values import normalise_voucher


# pure: cached, an import asks for the same ones line after line
@lru_cache(maxsize=65536)
def voucher_id(voucher: str) -> UUID:
    """One id per voucher number as written any way (`pz-1`, `ＰＺ-1`, `PZ-1`)."""
    return uuid5(NAMESPACE_URL, f"/vouchers/{normalise_voucher(voucher)}")


class Voucher(Aggregate):
    @staticmethod
    def create_id(voucher: str) -> UUID:
        return voucher_id(voucher)

    @event("Used")
    def __init__(
        self,
        *,
        voucher: str,
        platform: str,
        actor: str,
        effective_on: date,
        doc_no: str | None,
        reason: str | None,
        basis: str | None,
    ) -> None:
        self.voucher = voucher
        self.platform = platform
