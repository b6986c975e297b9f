"""The Binance sandbox checks a parameter whole, as Binance does: a value ending in a newline
is -1100, not read as the number or id before it (`re.match` with `$` matched before a final
newline, and Decimal("1\\n") is 1), so a client that would fail on Binance failed here too."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeguard.sandbox.params import ApiError, int_param, num
from tradeguard.sandbox.rest_orders import client_id


@pytest.mark.parametrize("raw", ["1\n", "0.5\n", "1\r\n"])
def test_a_number_ending_in_a_newline_is_1100(raw):
    with pytest.raises(ApiError) as exc:
        num({"quantity": raw}, "quantity")
    assert exc.value.code == -1100 and "'quantity'" in str(exc.value)
    assert num({"quantity": "0.5"}, "quantity") == Decimal("0.5")


def test_an_integer_ending_in_a_newline_is_1100():
    with pytest.raises(ApiError) as exc:
        int_param({"limit": "5\n"}, "limit")
    assert exc.value.code == -1100
    assert int_param({"limit": "5"}, "limit") == 5


def test_a_client_order_id_ending_in_a_newline_is_1100():
    with pytest.raises(ApiError) as exc:
        client_id({"newClientOrderId": "my-order\n"}, "newClientOrderId")
    assert exc.value.code == -1100
    assert client_id({"newClientOrderId": "my-order"}, "newClientOrderId") == "my-order"
