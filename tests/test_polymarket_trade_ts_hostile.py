"""A Polymarket trade row's time as the venue might send it wrongly: each is refused with a
ValueError naming the field (the row is skipped with a warning), never another exception or
a time no store can keep."""

from __future__ import annotations

import pytest

from tradeguard.venues.polymarket.trade_time import trade_ts_ms
from tradeguard.venues.user_stream import FILL_ROW_ERRORS

SECOND = "1700000000"


@pytest.mark.parametrize(
    "raw",
    ["1e400", "1e999999999", "-5", "1e17", 10**30, 1e300, "1969-12-31T23:59:59Z",
     "0001-01-01T00:00:00+00:00", "-1.5", True, None, [], "NaN", "Infinity", "12\x00"],
)  # fmt: skip
def test_a_match_time_out_of_range_or_of_the_wrong_type_is_a_value_error(raw):
    with pytest.raises(ValueError, match="match_time"):
        trade_ts_ms({"match_time": raw})


@pytest.mark.parametrize("stamp", ["²", "1700000000123²", "\u0661" * 13])
def test_a_channel_timestamp_of_odd_digits_is_ignored_or_a_value_error(stamp):
    try:
        ms = trade_ts_ms({"matchtime": SECOND, "timestamp": stamp})
    except FILL_ROW_ERRORS as exc:
        assert isinstance(exc, ValueError) and "timestamp" in str(exc)
    else:
        assert ms == int(SECOND) * 1000


def test_fitting_times_still_parse():
    assert trade_ts_ms({"match_time": SECOND}) == 1_700_000_000_000
    assert trade_ts_ms({"match_time": "1700000000.25"}) == 1_700_000_000_250
    assert trade_ts_ms({"matchtime": SECOND, "timestamp": "1700000000123"}) == 1_700_000_000_123
    assert trade_ts_ms({"match_time": "2023-11-14T22:13:20.5Z"}) == 1_700_000_000_500
