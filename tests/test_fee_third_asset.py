"""A fee paid in a third asset (BNB on Binance, gas in ETH on a DEX pool of other tokens) is
valued in the quote asset when the fill is booked, stored with the fill, and counted in the
position's P&L, the fee totals and after a restart; before, it counted as zero."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_triangular_exec_support import VENUE, Stack
from tradeguard.model import Fill, OrderIntent, OrderType, Side
from tradeguard.model.enums import LiquiditySide
from tradeguard.portfolio.portfolio import Portfolio

D = Decimal


def _fill(cid: str, fee: str, fee_asset: str) -> Fill:
    return Fill(VENUE, "ETH/USDT", cid, "v-1", "t-1", Side.BUY, D(3050), D("0.1"), D(fee),
                fee_asset, LiquiditySide.TAKER, 1)  # fmt: skip


async def test_a_bnb_fee_is_valued_at_booking_stored_and_charged_to_the_position(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path)
    s.portfolio.mark("BNB/USDT", D(600))
    intent = OrderIntent(
        "bot", VENUE, "ETH/USDT", Side.BUY, D("0.1"), OrderType.LIMIT, price=D(3050)
    )  # fmt: skip  (below the ask: it rests)
    result = await s.orders.submit(intent)
    assert result.ok and result.order is not None
    cid = result.order.client_order_id
    s.orders.on_fill(_fill(cid, "0.00038125", "BNB"))  # 0.1 % of 305 USDT, 25 % off, in BNB

    [stored] = s.storage.load_fills(client_order_id=cid)
    assert stored.fee_quote == stored.fee_in_quote == D("0.22875")
    pos = s.portfolio.positions[(VENUE, "ETH/USDT", "bot")]
    assert pos.fees == D("0.22875") and pos.realized_pnl == D("-0.22875")
    assert s.portfolio.fees_paid == D("0.22875")
    assert s.storage.fill_fees() == (1, D("0.22875"))  # what a restarted node starts from
    assert s.portfolio.book(VENUE).total("BNB") == D("-0.00038125")  # the BNB did leave


def test_gas_in_eth_is_valued_through_the_wrapped_token_s_price_and_unknown_stays_unvalued():
    p = Portfolio("USDC")
    gas = Fill("dex", "UNI/USDC", "c", "v", "0xhash", Side.BUY, D(10), D(5), D("0.0004"), "ETH",
               LiquiditySide.TAKER, 1)  # fmt: skip
    assert p.valued_fee(gas).fee_quote is None  # no price for ETH yet: left as it was
    p.mark("WETH/USDC", D(2500))
    assert p.valued_fee(gas).fee_quote == D("1.0000")  # ETH priced as WETH
    in_quote = Fill("dex", "UNI/USDC", "c", "v", "t", Side.BUY, D(10), D(5), D("0.05"), "USDC",
                    LiquiditySide.TAKER, 1)  # fmt: skip
    assert p.valued_fee(in_quote) is in_quote and in_quote.fee_in_quote == D("0.05")
