"""Warn on connect when an API key may withdraw funds."""

from __future__ import annotations

from typing import Any

import pytest

from tradeguard.secrets import check_withdrawal_permission

BINANCE_SAFE = {
    "ipRestrict": True,
    "createTime": 1698645219000,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": False,
    "enableFutures": False,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableSpotAndMarginTrading": True,
}


def test_binance_key_with_withdrawals_gets_a_loud_warning() -> None:
    answer = {**BINANCE_SAFE, "enableWithdrawals": True, "ipRestrict": False}

    warning = check_withdrawal_permission("binance", answer)

    assert warning is not None
    assert warning.startswith("WARNING")
    assert "WITHDRAWAL permission" in warning and "'binance'" in warning
    assert "not restricted to trusted IP addresses" in warning
    assert "disable withdrawals" in warning


def test_binance_answer_wrapped_in_api_restrictions_is_read() -> None:
    answer = {"apiRestrictions": {**BINANCE_SAFE, "enableWithdrawals": True}}

    warning = check_withdrawal_permission("binance", answer)

    assert warning is not None and "IP addresses" not in warning


def test_trade_only_binance_key_is_quiet() -> None:
    assert check_withdrawal_permission("binance", BINANCE_SAFE) is None
    assert check_withdrawal_permission("binance", {"apiRestrictions": BINANCE_SAFE}) is None


@pytest.mark.parametrize(
    ("answer", "warns"),
    [
        ({"perm": "read_only,trade,withdraw"}, True),
        ({"perm": "read_only,trade"}, False),
        ({"permissions": {"Wallet": ["AccountTransfer", "Withdraw"], "Spot": ["SpotTrade"]}}, True),
        ({"permissions": {"Spot": ["SpotTrade"]}}, False),
        ({"permissions": ["query", "trade", "withdraw"]}, True),
        ({"can_withdraw": "true"}, True),
        ({"withdrawalsEnabled": 0}, False),
        ({}, False),
    ],
)
def test_other_venue_permission_shapes(answer: dict[str, Any], warns: bool) -> None:
    assert (check_withdrawal_permission("okx", answer) is not None) is warns
