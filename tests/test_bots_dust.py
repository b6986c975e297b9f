"""A remainder below the venue's minimum order (left by a partly filled exit) cannot be sold:
it must not hold a bot's next entry back forever, nor keep an exit plan retrying."""

from __future__ import annotations

from decimal import Decimal

from bots_support import SYMBOL, add_bot, desk, mid, quote
from test_api_support import replayed_node
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent

POS = ("paper", SYMBOL, "alpha")


async def _enter(node, **exits: str) -> None:
    d = desk(node)
    ask = {"symbol": SYMBOL, "side": "buy", "score": "0.5"}
    conf = d.validate("alpha", ask)["confirmation_id"]
    trade = await d.execute("alpha", {**ask, "confirmation_id": conf, **exits}, by="test")
    assert trade["status"] == "submitted", trade
    await quote(node, mid(node))  # the paper venue fills the market order


async def _leave_dust(node) -> Decimal:
    """Sell all but a remainder worth less than the instrument's minimum notional."""
    inst = node.market.instrument("paper", SYMBOL)
    assert inst is not None and inst.min_notional > 0
    price = mid(node)
    keep = inst.round_amount(inst.min_notional / price / 2)
    pos = node.portfolio.positions[POS]
    sell = node.portfolio.sellable(pos) - keep
    result = await node.submit(
        OrderIntent("alpha", "paper", SYMBOL, Side.SELL, sell, OrderType.MARKET, reduce_only=True)
    )
    assert result.ok, result
    await quote(node, price)
    assert pos.quantity > 0 and pos.quantity * price < inst.min_notional
    assert node.portfolio.sellable(pos) >= inst.amount_step  # more than a lot step: kept
    return pos.quantity


async def test_a_remainder_below_the_minimum_order_does_not_block_the_next_entry(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir)
    try:
        add_bot(node, "alpha", cooldown_s=0)
        await _enter(node)
        held = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "buy", "score": "0.5"})
        assert "BOT_ONE_POSITION" in held["codes"]  # a real position holds the entry back
        dust = await _leave_dust(node)
        assert node.portfolio.closable(node.portfolio.positions[POS]) == 0
        again = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "buy", "score": "0.5"})
        assert "BOT_ONE_POSITION" not in again["codes"], again
        # A sell closes it as far as an order can: not at all. Refused, and never a new short.
        sell = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "sell", "score": "0.5"})
        assert sell["approved"] is False and "DUST_REMAINDER" in sell["codes"], sell
        # The next entry adds to the remainder; its exit then sells both.
        await _enter(node)
        pos = node.portfolio.positions[POS]
        assert pos.quantity > dust and node.portfolio.closable(pos) == pos.quantity
    finally:
        node.close()


async def test_an_exit_plan_ends_when_only_an_unsellable_remainder_is_left(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    try:
        add_bot(node, "alpha")
        await _enter(node, stop_loss_pct="2")
        key = f"paper|{SYMBOL}|alpha"
        assert key in node.bot_exits.plans
        await _leave_dust(node)
        assert len(node.orders.orders) == 2
        await quote(node, mid(node) * Decimal("0.95"))  # through the stop: nothing to sell
        assert key not in node.bot_exits.plans
        assert node.portfolio.positions[POS].quantity > 0  # the ledger keeps the remainder
        # the entry and the partial sell only: no exit order the risk engine must refuse
        assert len(node.orders.orders) == 2
    finally:
        node.close()


async def test_a_price_dip_never_turns_a_whole_position_into_dust(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir)
    try:
        add_bot(node, "alpha")
        inst = node.market.instrument("paper", SYMBOL)
        assert inst is not None
        await _enter(node, stop_loss_pct="10", take_profit_pct="20")
        pos = node.portfolio.positions[POS]
        entry = mid(node)
        # The minimum notional is above the position's value after a 5 % dip: still a
        # position an order may close, whatever the price; its exits stay.
        node.portfolio.order_minimums[("paper", SYMBOL)] = (
            inst.min_amount, pos.quantity * entry * Decimal("0.97")
        )  # fmt: skip
        key = f"paper|{SYMBOL}|alpha"
        await quote(node, (entry * Decimal("0.95")).quantize(Decimal("0.01")))
        assert node.portfolio.closable(pos) == node.portfolio.sellable(pos) > 0
        assert key in node.bot_exits.plans
        held = desk(node).validate("alpha", {"symbol": SYMBOL, "side": "buy", "score": "0.5"})
        assert "BOT_ONE_POSITION" in held["codes"]
    finally:
        node.close()
