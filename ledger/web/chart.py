"""The funds chart of the web view: grouped bars laid out for an inline SVG
(no JavaScript, nothing fetched). One group per fiscal year and category, one
bar per movement (allocated, paid, reversed, recovered), on one scale."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aggregates.values import money_str

# the movements drawn, in order, with the label a reader sees
SERIES: tuple[tuple[str, str], ...] = (
    ("allocated", "allocated 下达"),
    ("disbursed", "paid 拨付"),
    ("reversed", "reversed 冲回"),
    ("recovered", "recovered 追回"),
)
BAR_W, BAR_GAP, GROUP_GAP = 26, 3, 48
PLOT_H, TOP, LEFT, BOTTOM = 240, 16, 92, 58
MIN_WIDTH = 560.0
TICKS = 4


@dataclass(frozen=True)
class Bar:
    movement: str
    label: str
    x: float
    y: float
    height: float
    amount: str
    year: int
    category: str


@dataclass(frozen=True)
class Group:
    x: float
    width: float
    year: int
    category: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    left: float
    top: float
    plot_h: float
    bars: list[Bar]
    groups: list[Group]
    ticks: list[Tick]
    bar_w: float = BAR_W
    series: tuple[tuple[str, str], ...] = SERIES


def _nice_max(top: Decimal) -> Decimal:
    """A round upper bound at or above `top` (1, 2, 2.5 or 5 × 10ⁿ)."""
    if top <= 0:
        return Decimal(1)
    exp = top.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        bound = step.scaleb(exp)
        if bound >= top:
            return bound
    return Decimal(10).scaleb(exp)  # pragma: no cover - 10 × 10ⁿ always bounds


def layout(lines: list[dict[str, Any]]) -> Chart | None:
    """The chart of `funds summary` lines (one per category × fiscal year), in
    year then category order; None when there is nothing to draw."""
    if not lines:
        return None
    ordered = sorted(lines, key=lambda r: (int(r["fiscal_year"]), str(r["category"])))
    top = max((Decimal(r[m] or 0) for r in ordered for m, _ in SERIES), default=Decimal(0))
    scale_max = _nice_max(top)
    n = len(SERIES)
    group_w = n * BAR_W + (n - 1) * BAR_GAP
    bars: list[Bar] = []
    groups: list[Group] = []
    x = float(LEFT + GROUP_GAP / 2)
    for r in ordered:
        year, category = int(r["fiscal_year"]), str(r["category"])
        groups.append(Group(x, group_w, year, category))
        for i, (movement, label) in enumerate(SERIES):
            amount = Decimal(r[movement] or 0)
            h = float(amount / scale_max) * PLOT_H
            bars.append(
                Bar(
                    movement=movement,
                    label=label,
                    x=x + i * (BAR_W + BAR_GAP),
                    y=TOP + PLOT_H - h,
                    height=h,
                    amount=money_str(amount),
                    year=year,
                    category=category,
                )
            )
        x += group_w + GROUP_GAP
    ticks = [
        Tick(TOP + PLOT_H - PLOT_H * i / TICKS, f"{scale_max * i / TICKS:,.0f}")
        for i in range(TICKS + 1)
    ]
    return Chart(
        width=max(x + GROUP_GAP / 2, MIN_WIDTH),
        height=TOP + PLOT_H + BOTTOM,
        left=LEFT,
        top=TOP,
        plot_h=PLOT_H,
        bars=bars,
        groups=groups,
        ticks=ticks,
    )
