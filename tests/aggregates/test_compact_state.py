"""A platform's state stays compact however many payments it has: a funds
line keeps running totals and the net change per date, not every entry (its
answers are those of the full list of entries), and its payments are a book
that a snapshot stores as two texts, each payment decoded when looked up."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from aggregates.platform_state import ZERO, FundLine, Payment, PaymentBook
from aggregates.values import normalise_voucher

WHATS = ("allocated", "disbursed", "reversed", "recovered")
entries = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=20),
        st.sampled_from(WHATS),
        st.integers(min_value=1, max_value=500).map(lambda c: Decimal(c) / 100 * 100),
    ),
    max_size=30,
)


def _lowest_from_every_entry(
    kept: list[tuple[date, str, Decimal]], day: date
) -> tuple[Decimal, date]:
    """The rule as written over every entry (before the line was compact)."""

    def net_on(d: date) -> Decimal:
        net = ZERO
        for on, what, amount in kept:
            if on <= d and what != "allocated":
                net += amount if what == "disbursed" else -amount
        return net

    days = sorted({day} | {on for on, _, _ in kept if on >= day})
    return min(((net_on(d), d) for d in days), key=lambda vd: vd[0])


@given(entries, st.integers(min_value=0, max_value=22))
def test_the_lowest_net_from_a_date_is_that_of_every_entry(
    raw: list[tuple[int, str, Decimal]], offset: int
) -> None:
    start = date(2026, 1, 1)
    line = FundLine("operation", 2026)
    kept = []
    for days, what, amount in raw:
        on = start + timedelta(days=days)
        line.add(on, what, amount)
        kept.append((on, what, amount))
    day = start + timedelta(days=offset)
    assert line.lowest_net_from(day) == _lowest_from_every_entry(kept, day)
    totals = {w: sum((a for _, x, a in kept if x == w), ZERO) for w in WHATS}
    assert (line.allocated, line.disbursed, line.reversed, line.recovered) == tuple(
        totals[w] for w in WHATS
    )
    assert len(line.net_changes) <= len({on for on, _, _ in kept})


payments = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=12),
        st.sampled_from(("operation", "research", "a|b;c=d%e,f")),
        st.lists(st.text(max_size=6), max_size=3),
        st.booleans(),
    ),
    max_size=12,
)


@given(payments, st.booleans(), st.text(min_size=1, max_size=8))
def test_a_book_of_payments_round_trips_through_its_snapshot_texts(
    raw: list[tuple[str, str, list[str], bool]], look_up_first: bool, extra: str
) -> None:
    """Any voucher, category and flags (separators, percent signs, other
    scripts, control characters): the restored book has the same payments —
    asked about before it is built, added to while still texts, looked up or
    not before it is stored again."""
    book = PaymentBook()
    for k, (voucher, category, flags, reversed_) in enumerate(raw):
        book[normalise_voucher(voucher)] = Payment(
            voucher, category, 2026, Decimal(k + 1) / 100 * 100, date(2026, 1, 1) + timedelta(k),
            flags, date(2026, 6, 1) if reversed_ else None,
        )  # fmt: skip
    restored = PaymentBook.from_snapshot_rows(*book.snapshot_rows())
    assert len(restored) == len(book)
    assert all(key in restored for key in book)
    assert (normalise_voucher(extra) in restored) == (normalise_voucher(extra) in book)
    added = Payment(extra, "operation", 2027, Decimal("1.00"), date(2027, 1, 1), [])
    for b in (book, restored):
        b[normalise_voucher(extra)] = added
    assert len(restored) == len(book)
    assert restored[normalise_voucher(extra)] == added
    if raw and not look_up_first:  # a recorded voucher replaced while still texts
        again_added = Payment(raw[0][0], "research", 2028, Decimal("2.00"), date(2028, 1, 1), [])
        lazy = PaymentBook.from_snapshot_rows(*book.snapshot_rows())
        expected = PaymentBook(dict(book.items()))
        lazy[normalise_voucher(raw[0][0])] = again_added
        expected[normalise_voucher(raw[0][0])] = again_added
        assert len(lazy) == len(expected)
        assert list(PaymentBook.from_snapshot_rows(*lazy.snapshot_rows()).items()) == list(
            expected.items()
        )
    if look_up_first and raw:
        restored[next(iter(restored))].reversed_on = date(2026, 7, 1)
        book[next(iter(book))].reversed_on = date(2026, 7, 1)
    again = PaymentBook.from_snapshot_rows(*restored.snapshot_rows())
    assert dict(again) == dict(book)
    assert list(again) == list(book)
