"""A Polymarket auth timestamp of thousands of ASCII digits is refused as outside the window,
never a 500: int() raised its own ValueError (past 4300 digits), which no handler caught."""

from __future__ import annotations

import time

import pytest

from tradeguard.sandbox.polymarket.auth import PolyAuthError, verify_l1, verify_l2

HUGE = "9" * 5000


def test_a_huge_l1_timestamp_is_refused() -> None:
    headers = {
        "POLY_ADDRESS": "0x" + "1" * 40, "POLY_TIMESTAMP": HUGE, "POLY_NONCE": "0",
        "POLY_SIGNATURE": "0x00",
    }  # fmt: skip
    with pytest.raises(PolyAuthError, match="timestamp"):
        verify_l1(headers, int(time.time()))


def test_a_huge_l2_timestamp_is_refused() -> None:
    creds = {"k": ("c2VjcmV0", "pass", "0xabc")}
    headers = {"POLY_API_KEY": "k", "POLY_TIMESTAMP": HUGE}
    with pytest.raises(PolyAuthError, match="timestamp"):
        verify_l2(creds, headers, "GET", "/orders", "", int(time.time()))
