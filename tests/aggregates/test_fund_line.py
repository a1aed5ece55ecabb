"""A funds line keeps running totals and the net change per date, not every
entry (a platform's state stays compact however many payments it has): its
answers are those of the full list of entries."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from aggregates.platform_state import ZERO, FundLine

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
