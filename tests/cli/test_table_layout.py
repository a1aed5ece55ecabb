"""The table renderer's direct layout (a table whose cells all fit on one line,
ledger/output.py `_unwrapped`) draws exactly the lines rich draws: any text —
Chinese, combining marks, emoji, zero-width and odd spaces, escapes shown —
right- and left-aligned columns, footers, no headers, widths near the limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.output import _rich_lines, _unwrapped, display_text, table_lines

ALPHABET = st.sampled_from(
    [
        *"ab Z09-.,:/（）·",
        *("西", "藏", "合", "计", "Ａ", "ｶ", "é", "\u0301", "\u200b", "\u2028", "\u3000"),
        *("😀", "\u202e", "\x1b", "\t", "\n", "\u00ad", "한", "ア"),
    ]
)
TEXT = st.lists(ALPHABET, max_size=12).map("".join).map(display_text)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], frozenset[int], list[str] | None]:
    n = draw(st.integers(min_value=1, max_value=5))
    header = st.lists(ALPHABET, min_size=1, max_size=8).map("".join).map(display_text)
    headers = [draw(header) for _ in range(n)]
    rows = draw(st.lists(st.lists(TEXT, min_size=n, max_size=n), max_size=6))
    right = frozenset(draw(st.sets(st.integers(min_value=0, max_value=n - 1))))
    footer = draw(st.none() | st.lists(TEXT, min_size=n, max_size=n))
    return headers, rows, right, footer


@settings(max_examples=300, deadline=None)
@given(tables(), st.booleans(), st.none() | st.integers(min_value=1, max_value=60))
def test_direct_layout_is_rich_layout(
    table: tuple[list[str], list[list[str]], frozenset[int], list[str] | None],
    no_headers: bool,
    fit: int | None,
) -> None:
    headers, rows, right, footer = table
    fast = _unwrapped(headers, rows, right, footer, no_headers, fit)
    if fast is not None:
        assert fast == _rich_lines(headers, rows, right, footer, no_headers, fit)


def test_a_table_that_fits_is_laid_out_directly_and_one_that_does_not_wraps() -> None:
    rows = [["91540100MA0000000X", "西藏净土农业科技有限公司", "1,000.00"]]
    assert _unwrapped(["code", "name", "amount"], rows, frozenset({2}), None, False, None) == [
        "code                name                        amount",
        "------------------- ------------------------- --------",
        "91540100MA0000000X  西藏净土农业科技有限公司  1,000.00",
    ]
    assert _unwrapped(["code", "name"], [r[:2] for r in rows], frozenset(), None, False, 30) is None
    wrapped = table_lines(["code", "name"], [r[:2] for r in rows], fit=30)
    assert all(len(line) <= 30 for line in wrapped) and len(wrapped) > 3
