"""After a fill the Polymarket venue reads the balances of the tokens it holds or just traded,
not one /balance-allowance request for every token the CLOB lists."""

from __future__ import annotations

from decimal import Decimal

from eth_account import Account

from test_polymarket_venue import YES, Recorder, make_order
from tradeguard.clock import Clock
from tradeguard.model.enums import Side
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.venues.polymarket.venue import PolymarketVenue

D = Decimal


class Delivered(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.balances: list[dict[str, Decimal]] = []

    def on_balances(self, venue, balances) -> None:
        self.balances.append({b.asset: b.total for b in balances})


def _token_reads(ex: PolymarketExchange) -> int:
    return sum(1 for c in ex.requests if c["path"] == "/balance-allowance"
               and "CONDITIONAL" in str(c["query"]))  # fmt: skip


async def test_a_fill_reads_the_held_and_traded_tokens_only():
    async with PolymarketExchange() as ex:
        ex.add_market("fed-dec", "1001", "1002", fee_rate=D("0.02"))
        ex.seed_book("fed-dec", yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
        for i in range(40):  # a listing of many markets, none of them held
            ex.add_market(f"other-{i}", str(2000 + 2 * i), str(2001 + 2 * i))
        wallet = Account.create()
        ex.add_account(wallet.address, D("1000"))
        venue = PolymarketVenue("polymarket", ex.url, wallet.key.hex(), Clock())
        rec = Delivered()
        venue.set_listener(rec)
        await venue.connect()
        try:
            full = {b.asset: b.total for b in await venue.fetch_balances()}
            assert full == {"PUSD": D(1000)}
            assert _token_reads(ex) == 82  # reconciliation's read still covers every token
            before = _token_reads(ex)
            await venue.submit(make_order("tg1-1", YES, Side.BUY, "10", "0.50"))
            await eventually(lambda: bool(rec.balances))
            assert rec.balances[-1]["fed-dec:YES"] == 10
            assert rec.balances[-1]["PUSD"] == D(1000) - D("4.7") - D("0.04982")
            assert _token_reads(ex) - before == 1  # the traded token, not all 82
            again = _token_reads(ex)
            await venue.submit(make_order("tg1-2", YES, Side.BUY, "5", "0.50"))
            await eventually(lambda: len(rec.balances) >= 2)
            assert rec.balances[-1]["fed-dec:YES"] == 15  # the held token is read again
            assert _token_reads(ex) - again == 1
        finally:
            await venue.close()
