"""The `arb-unwind` tag passes the loss limits, REDUCING and the cooldowns only for an intent
that gives back what the strategy's own unfinished arbitrage cycle holds, and no more of it; a
user strategy tagging a fresh buy so is judged as any entry."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import count
from pathlib import Path

from node_support import paper_config, write_slice
from test_risk_support import T0, Rig, buy, sell
from tradeguard.config import Config
from tradeguard.model.enums import LiquiditySide, OrderType, Side
from tradeguard.model.events import EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.order import ARB_UNWIND_TAG, Order, OrderIntent
from tradeguard.node import build_node
from tradeguard.risk.unwind import CycleHoldings

# Buys 0.001 BTC on its 2nd candle (its fee is a loss past the tiny weekly limit), then on its
# 4th a plain buy and on its 6th a buy tagged as an arbitrage unwind.
SNEAK = """
from decimal import Decimal
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Sneak(Strategy):
    def __init__(self, strategy_id, venue, symbol, params):
        super().__init__(strategy_id, venue, symbol, params)
        self.n = 0

    def on_candle(self, candle):
        self.n += 1
        tag = {2: "", 4: "", 6: "arb-unwind"}.get(self.n)
        if tag is not None:
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.001"),
                                  OrderType.MARKET, signal={"n": self.n}, tag=tag))
"""


async def test_a_user_strategy_tagging_a_fresh_buy_as_an_unwind_is_held_to_the_loss_limits(
    tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "sneak.py").write_text(SNEAK)
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    base = paper_config(
        f"sqlite:///{tmp_path / 'tg.db'}", data, risk={"weekly_loss_limit_usd": "0.01"}
    )
    raw = base.model_dump(mode="json")
    raw["strategies"] = [
        {"id": "sneak", "kind": f"{tmp_path / 'sneak.py'}:Sneak", "venue": "paper",
         "symbol": "BTC/USDT"}
    ]  # fmt: skip
    node = build_node(Config.model_validate(raw))
    denied = []
    node.bus.subscribe(lambda e: denied.append(e) if e.kind == EventKind.RISK_DENIED else None)
    try:
        await node.run()
        sent = sorted(o.signal["n"] for o in node.storage.load_orders() if o.strategy_id == "sneak")
        assert sent == [2], sent  # the plain buy and the tagged one both stopped at the limit
        codes = [(e.data.get("code"), e.data.get("tag")) for e in denied]
        assert [c for c, _ in codes] == ["WEEKLY_LOSS_LIMIT", "WEEKLY_LOSS_LIMIT"], codes
    finally:
        node.close()


def test_an_unwind_passes_only_for_what_the_cycle_holds() -> None:
    # the day opened at 10,000; the book is worth 9,700 now, before the breaker has seen it
    rig = Rig(cash=Decimal(9_700), daily_loss_limit_usd=Decimal(200))
    rig.engine.observe_equity(T0, Decimal(10_000))
    rig.at(T0 + 1000)
    assert rig.check(buy("0.5")).code == "DAILY_LOSS_LIMIT"
    holdings = rig.engine.cycle_holdings
    assert rig.check(sell("0.5", tag=ARB_UNWIND_TAG)).code == "DAILY_LOSS_LIMIT"  # none held
    holdings.hold("s1", "paper", "BTC", Decimal("0.5"))  # a first leg bought 0.5 BTC
    assert rig.check(sell("0.5", tag=ARB_UNWIND_TAG)).approved
    assert rig.check(sell("0.6", tag=ARB_UNWIND_TAG)).code == "DAILY_LOSS_LIMIT"  # more than held
    assert rig.check(buy("0.5", tag=ARB_UNWIND_TAG)).code == "DAILY_LOSS_LIMIT"  # gives USDT
    holdings.hold("s1", "paper", "USDT", Decimal(50))  # a sell leg left 50 USDT
    assert rig.check(buy("0.5", tag=ARB_UNWIND_TAG)).approved  # 0.5 at 100: gives 50 USDT
    assert rig.check(buy("0.6", tag=ARB_UNWIND_TAG)).code == "DAILY_LOSS_LIMIT"
    other = buy("0.5", tag=ARB_UNWIND_TAG, strategy_id="s2")  # not its cycle's holding
    assert rig.check(other).code == "DAILY_LOSS_LIMIT"


_TRADES = count(1)  # each fill its own trade


def _fill(side: Side, symbol: str, amount: str, price: str, fee: str, fee_asset: str) -> Fill:
    return Fill("paper", symbol, "c1", "v1", f"t{next(_TRADES)}", side, Decimal(price),
                Decimal(amount), Decimal(fee), fee_asset, LiquiditySide.TAKER, T0)  # fmt: skip


def test_a_cycles_fills_make_its_holdings_and_its_record_ends_them_unless_held() -> None:
    h = CycleHoldings()
    # USDT -> ETH -> BTC: the first leg buys 1 ETH (fee 0.001 ETH), the second sells it for BTC
    h.on_fill("tri", _fill(Side.BUY, "ETH/USDT", "1", "2000", "0.001", "ETH"), "leg")
    assert h.held("tri", "paper", "ETH") == Decimal("0.999")
    assert h.held("tri", "paper", "USDT") == 0  # what it spent was never held
    h.on_fill("tri", _fill(Side.SELL, "ETH/BTC", "0.999", "0.05", "0", "BTC"), "leg")
    assert (h.held("tri", "paper", "ETH"), h.held("tri", "paper", "BTC")) == (0, Decimal("0.04995"))
    unwind = OrderIntent("tri", "paper", "BTC/USDT", Side.SELL, Decimal("0.04995"),
                         OrderType.LIMIT, Decimal(40_000), tag=ARB_UNWIND_TAG)  # fmt: skip
    assert h.admits(unwind) and not h.admits(replace(unwind, strategy_id="other"))
    assert not h.admits(replace(unwind, venue="b"))  # held on paper, not on b
    assert not h.admits(replace(unwind, tag=""))
    # a buy gives its quote: BTC, held, buys back ETH
    back = OrderIntent("tri", "paper", "ETH/BTC", Side.BUY, Decimal("0.99"), OrderType.LIMIT,
                       Decimal("0.05"), tag=ARB_UNWIND_TAG)  # fmt: skip
    assert h.admits(back) and not h.admits(replace(back, amount=Decimal("1.1")))
    assert not h.admits(replace(back, price=None, type=OrderType.MARKET))
    h.on_fill("tri", _fill(Side.SELL, "BTC/USDT", "0.02", "40000", "0", "USDT"), "unwind")
    assert h.held("tri", "paper", "BTC") == Decimal("0.02995")
    # what an unwind hop brings in is what its next hop gives back, until the record
    assert h.held("tri", "paper", "USDT") == 800
    h.end_cycle("tri", "held", "USDT")  # held: the rest stays for a later unwind
    assert h.held("tri", "paper", "USDT") == 0  # the start asset it brought home is not
    assert h.admits(replace(unwind, amount=Decimal("0.02995")))
    h.on_fill("tri", _fill(Side.BUY, "ETH/USDT", "1", "2000", "0", "USDT"), "leg")
    h.end_cycle("tri", "completed", "USDT")  # the next cycle ended: its holdings go, not those
    assert h.held("tri", "paper", "ETH") == 0
    assert h.held("tri", "paper", "BTC") == Decimal("0.02995")


def test_the_legs_a_stop_left_without_a_record_are_held_for_their_unwind_at_start() -> None:
    h = CycleHoldings()
    leg = Order("c1", "pm", "paper", "ETH/USDT", Side.BUY, OrderType.LIMIT, Decimal(1),
                Decimal(2000), signal={"arb": "first"})  # fmt: skip
    mine = Order(
        "c2", "pm", "paper", "ETH/USDT", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(2000)
    )  # fmt: skip  (an order of no cycle: not counted)
    fills = {"c1": [_fill(Side.BUY, "ETH/USDT", "1", "2000", "0", "USDT")],
             "c2": [_fill(Side.BUY, "ETH/USDT", "1", "2000", "0", "USDT")]}  # fmt: skip
    h.adopt("pm", [leg, mine], fills)
    unwind = OrderIntent("pm", "paper", "ETH/USDT", Side.SELL, Decimal(1), OrderType.LIMIT,
                         Decimal(1990), tag=ARB_UNWIND_TAG)  # fmt: skip
    assert h.held("pm", "paper", "ETH") == 1
    assert h.admits(unwind) and not h.admits(replace(unwind, amount=Decimal(2)))


def test_a_held_leg_read_from_its_record_is_covered_once() -> None:
    h = CycleHoldings()
    h.hold("pm", "kalshi", "FED-YES", Decimal(4))
    h.end_cycle("pm", "held", "USD")
    h.cover("pm", "kalshi", "FED-YES", Decimal(10))  # the record says 10: 6 were not counted
    h.cover("pm", "kalshi", "FED-YES", Decimal(10))  # asked again: nothing added
    assert h.held("pm", "kalshi", "FED-YES") == 10


def test_a_fill_after_its_cycles_record_is_left_to_a_later_unwind() -> None:
    h = CycleHoldings()
    # the first leg was sent and never answered within its wait: the cycle is recorded held
    # with nothing filled; then the venue's fill arrives
    h.sent("pm", "c1")
    h.end_cycle("pm", "held", "USD")
    late = Fill("k", "FED-NO/USD", "c1", "v1", "late-1", Side.BUY, Decimal("0.40"), Decimal(10),
                Decimal(0), "USD", LiquiditySide.TAKER, T0)  # fmt: skip
    h.on_fill("pm", late, "first")
    h.on_fill("pm", late, "first")  # told again (a reconciliation): counted once
    assert h.held("pm", "k", "FED-NO") == 10
    # the next cycle runs and completes: the late leg's holding stays for its unwind
    h.sent("pm", "c2")
    h.on_fill("pm", replace(late, client_order_id="c2", trade_id="t-c2", symbol="X/USD"), "leg")
    h.end_cycle("pm", "completed", "USD")
    unwind = OrderIntent("pm", "k", "FED-NO/USD", Side.SELL, Decimal(10), OrderType.LIMIT,
                         Decimal("0.38"), tag=ARB_UNWIND_TAG)  # fmt: skip
    assert h.admits(unwind) and not h.admits(replace(unwind, amount=Decimal(11)))
    assert h.held("pm", "k", "X") == 0  # the completed cycle's own holding ended
