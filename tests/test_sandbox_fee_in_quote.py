"""Fees in the quote asset (Kraken's markets) leave Binance markets as they were."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.orders import HOUSE_ACCOUNT
from tradeguard.sandbox.server import SandboxExchange

D = Decimal


def test_binance_house_is_issued_exactly_what_its_book_and_trades_cost() -> None:
    ex = SandboxExchange(SandboxConfig())
    ex.add_market("BTC/USDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5")
    ex.set_book("BTC/USDT", bids=[("49999", "1"), ("49998", "2")], asks=[("50001", "1")])
    house = ex.engine.accounts[HOUSE_ACCOUNT]
    assert house.issued["USDT"] == D("49999") + D("99996")
    assert house.bal("USDT").free == 0
    ex.trade_through("BTC/USDT", "BUY", "50001", "0.5")
    assert house.issued["USDT"] == D("49999") + D("99996") + D("25000.5")


async def test_a_quote_fee_buy_never_pays_more_fee_than_it_locked() -> None:
    # Two levels whose trades' fees each round up while their sum's fee rounds down: charged
    # one by one they came to 0.00000001 USD beyond the lock, taken from a free balance of 0.
    from tradeguard.sandbox.kraken.client import make_kraken_client
    from tradeguard.sandbox.kraken.server import KrakenSandbox
    from tradeguard.sandbox.kraken.testing import CAROL_KEY, CAROL_SECRET

    ex = KrakenSandbox(SandboxConfig())
    ex.add_market("BTC/USD", "BTC", "USD", "0.1", "0.00000001", "0.0001", "0.5")
    cost = D("50001") * D("0.00010193") + D("50002") * D("0.00010097")
    fee = D("0.02637779")  # 0.26 % of the cost, rounded half-up: what the buy locks
    ex.add_account(CAROL_KEY, CAROL_SECRET, {"USD": cost + fee})
    ex.set_book(
        "BTC/USD", bids=[("49999", "1")], asks=[("50001", "0.00010193"), ("50002", "0.00010097")]
    )
    async with ex:
        carol = make_kraken_client(ex.base_url, CAROL_KEY, CAROL_SECRET)
        try:
            await carol.load_markets()
            await carol.create_order("BTC/USD", "market", "buy", 0.0002029)
            trades = await carol.fetch_my_trades("BTC/USD")
        finally:
            await carol.close()
    assert len(trades) == 2
    assert sum(D(str(t["fee"]["cost"])) for t in trades) == fee
    assert ex.balances(CAROL_KEY)["USD"] == (0, 0)
    assert ex.balances(CAROL_KEY)["BTC"] == (D("0.0002029"), 0)
    deposits = {"USD": cost + fee}
    issued = ex.engine.accounts[HOUSE_ACCOUNT].issued
    for asset, total in ex.engine.totals().items():
        assert total == deposits.get(asset, D(0)) + issued.get(asset, D(0)), asset


def test_a_kraken_market_row_without_fees_charges_krakens_fees() -> None:
    from tradeguard.sandbox.kraken.server import KrakenSandbox

    row = {"symbol": "ETH/USD", "base": "ETH", "quote": "USD", "tick": "0.01", "step": "0.0001"}
    kraken = KrakenSandbox(SandboxConfig(markets=[dict(row)])).engine.markets["ETHUSD"]
    assert (kraken.maker_fee, kraken.taker_fee, kraken.fee_in_quote) == (
        D("0.0016"), D("0.0026"), True,
    )  # fmt: skip
    binance = SandboxExchange(SandboxConfig(markets=[dict(row)])).engine.markets["ETHUSD"]
    assert (binance.maker_fee, binance.taker_fee, binance.fee_in_quote) == (
        D("0.001"), D("0.001"), False,
    )  # fmt: skip
    priced = {**row, "maker_fee": "0.002", "taker_fee": "0.003"}
    kraken = KrakenSandbox(SandboxConfig(markets=[priced])).engine.markets["ETHUSD"]
    assert (kraken.maker_fee, kraken.taker_fee) == (D("0.002"), D("0.003"))
