"""A timeframe's count takes ASCII digits only, and a bad one is refused with the message that
names it: int() read "٣m" as three minutes (a timeframe no venue knows) and "²m" or a count of
thousands of digits raised int()'s own error, which names neither the field nor the form."""

from __future__ import annotations

import pytest

from tradeguard.marketdata.live.subscriptions import timeframe_s


@pytest.mark.parametrize("text", ["\u0663m", "\u00b2m", "\uff11h", "1" * 5000 + "m", "1_0m"])
def test_a_timeframe_count_not_in_ascii_digits_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match=r"timeframe=.*expected a count and a unit"):
        timeframe_s(text)


def test_a_timeframe_in_ascii_digits_still_reads() -> None:
    assert timeframe_s("15m") == 900 and timeframe_s("4h") == 14_400
