"""A listing cursor of the local prediction-market venues is the base64 of the next row's
offset, and one this server did not hand out is refused: the offset's text takes ASCII digits
only. int() also read "1_0" as 10, " 2" as 2 and Arabic-Indic digits, so such a cursor paged."""

from __future__ import annotations

import base64

import pytest

from tradeguard.sandbox.paging import clob_page, kalshi_page

ROWS = list(range(30))


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("offset", ["1_0", " 2", "2 ", "+2", "\u0662", "\uff12"])
def test_a_cursor_whose_offset_is_not_ascii_digits_is_refused(offset: str) -> None:
    with pytest.raises(ValueError, match="invalid cursor"):
        kalshi_page(ROWS, {"cursor": _cursor(offset), "limit": "5"}, 100)
    with pytest.raises(ValueError, match="invalid cursor"):
        clob_page(ROWS, _cursor(offset), 5)


def test_a_cursor_handed_out_still_pages() -> None:
    page, cursor = kalshi_page(ROWS, {"limit": "5"}, 100)
    assert page == ROWS[:5]
    assert kalshi_page(ROWS, {"cursor": cursor, "limit": "5"}, 100)[0] == ROWS[5:10]
    first, nxt = clob_page(ROWS, "", 5)
    assert first == ROWS[:5] and clob_page(ROWS, nxt, 5)[0] == ROWS[5:10]
