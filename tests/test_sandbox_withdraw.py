"""The sandbox's `POST /admin/withdraw`: a withdrawal made on the venue side, for rehearsing
what the balance sync and the start-up audit do with it (the real ccxt client reads it)."""

from __future__ import annotations

from decimal import Decimal

import httpx

from test_ccxt_support import make_venue
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange


async def test_a_withdrawal_takes_free_balance_and_refuses_more_than_is_free() -> None:
    async with seeded_exchange() as ex, httpx.AsyncClient(base_url=ex.base_url) as http:
        venue = make_venue(ex, stream_user_data=False)
        try:
            await venue.connect()
            take = {"api_key": ALICE_KEY, "balances": {"USDT": "1000"}}
            ok = await http.post("/admin/withdraw", json=take)
            assert ok.status_code == 200, ok.text
            assert ok.json() == {"balances": {"USDT": "99000"}}
            held = {b.asset: b.total for b in await venue.fetch_balances()}
            assert held["USDT"] == Decimal(99_000)
            body = {"api_key": ALICE_KEY, "balances": {"BTC": "1.5", "USDT": "1"}}
            bad = await http.post("/admin/withdraw", json=body)
            assert bad.status_code == 400 and "balances.BTC=1.5: more than the 1" in bad.text
            assert {b.asset: b.total for b in await venue.fetch_balances()} == held  # unchanged
            unknown = await http.post("/admin/withdraw", json={"api_key": "nobody"})
            assert unknown.status_code == 400 and "no account has this key" in unknown.text
            minus = {"api_key": ALICE_KEY, "balances": {"BTC": "-1"}}
            negative = await http.post("/admin/withdraw", json=minus)
            assert negative.status_code == 400, negative.text
        finally:
            await venue.close()
