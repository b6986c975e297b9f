"""A Polymarket L1 auth nonce is ASCII digits, as every other number the local CLOB reads: int()
also read '٣' (Arabic-Indic three), ' 3', '+3' and '0_3' as 3, so headers signed over nonce 3
passed with a nonce no client sends, and derived the credentials of nonce 3."""

from __future__ import annotations

import time

import pytest
from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.signer import Signer

from tradeguard.sandbox.polymarket.auth import PolyAuthError, verify_l1

KEY = "0x" + "4c" * 32


def _headers(nonce: str) -> dict[str, str]:
    now = int(time.time())
    headers = create_level_1_headers(Signer(KEY, 137), nonce=3, timestamp=now)
    return {**headers, "POLY_NONCE": nonce}


def test_a_nonce_in_ascii_digits_is_read() -> None:
    address, nonce = verify_l1(_headers("3"), int(time.time()))
    assert nonce == 3
    assert address.lower() == Signer(KEY, 137).address().lower()


@pytest.mark.parametrize("spelled", ["٣", "３", " 3", "3 ", "+3", "0_3", "-0", ""])
def test_a_nonce_not_in_ascii_digits_is_refused(spelled: str) -> None:
    with pytest.raises(PolyAuthError, match="POLY_NONCE"):
        verify_l1(_headers(spelled), int(time.time()))


def test_a_nonce_past_uint256_is_refused() -> None:
    with pytest.raises(PolyAuthError, match="POLY_NONCE"):
        verify_l1(_headers(str(2**256)), int(time.time()))
