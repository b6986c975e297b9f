"""Only the timeout re-send of a bot's own cancelled entry passes the cooldown its first send
started: once, on the same side, for no more than it left; any other intent naming an order it
"replaces" is held to the cooldown as any entry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from bots_support import SYMBOL, add_bot, mid, quote, rig
from tradeguard.execution.timeouts import TimeoutPolicy
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.bot_strategy import bot_gate, submit_as_bot
from tradeguard.storage.bot_rows import BotRows

AMOUNT = Decimal("0.0004")


@asynccontextmanager
async def _gamma(tmp_path: Path, data_dir: Path, **changes: Any) -> AsyncIterator[TradingNode]:
    """A node with bot gamma (no confirmation, a 600 s cooldown) trading at its mid."""
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, cooldown_s=600, **changes)
    await quote(r.node, mid(r.node))
    try:
        yield r.node
    finally:
        await r.http.aclose()
        r.node.close()


async def _time_out(node: TradingNode, bot: str, timeout_s: float = 30) -> None:
    """A minute on, the order timeout (`timeout_s`, no re-send of its own) cancels the bot's
    limit orders that rest past it."""
    node.timeouts.policies[bot] = TimeoutPolicy(timeout_s)
    await quote(node, mid(node))
    await node.timeouts.sweep()


@contextmanager
def _re_sending(node: TradingNode, old_id: str) -> Iterator[None]:
    """What the order timeout's own re-send (`replace_on_timeout`) holds around its submit: the
    timed-out entry's id, for the bot gate to read; the intents sent inside are judged as that
    re-send would be."""
    node.timeouts.cancelled.add(old_id)
    try:
        yield
    finally:
        node.timeouts.cancelled.discard(old_id)


def _intent(side: Side, amount: Decimal, replaces: str, price: Decimal) -> OrderIntent:
    return OrderIntent("gamma", "paper", SYMBOL, side, amount, OrderType.LIMIT, price,
                       signal={"replaces": replaces})  # fmt: skip


async def test_only_a_true_re_send_skips_the_cooldown(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, one_position_per_symbol=False,
            cooldown_s=600)  # fmt: skip
    await quote(r.node, mid(r.node))
    node = r.node
    try:
        body = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.5"}
        first = await r.http.post("/api/v1/trades/execute", json=body, headers=r.trader)
        assert first.status_code == 201, first.text
        filled = first.json()["client_order_id"]
        low = (mid(node) * Decimal("0.99")).quantize(Decimal("0.01"))
        for _ in range(11):  # the buy's cooldown (600 s) runs out
            await quote(node, mid(node))
        resting = await submit_as_bot(node, _intent(Side.BUY, AMOUNT, "", low))
        assert resting.status == "submitted" and resting.order is not None, resting
        await _time_out(node, "gamma")
        assert resting.order.status is OrderStatus.CANCELLED
        cancelled = resting.order.client_order_id
        cooling = [
            _intent(Side.BUY, AMOUNT, filled, low),  # a filled order is no timed-out entry
            _intent(Side.BUY, AMOUNT * 2, cancelled, low),  # more than it left
            _intent(Side.BUY, AMOUNT, "tg-no-such-order", low),
        ]
        # outside the timeout's own re-send, an intent naming the cancelled entry is a new entry
        why = bot_gate(node, _intent(Side.BUY, AMOUNT, cancelled, low))
        assert why is not None and why[0] == "BOT_COOLDOWN", why
        with _re_sending(node, cancelled):
            for intent in cooling:
                why = bot_gate(node, intent)
                assert why is not None and why[0] == "BOT_COOLDOWN", (intent, why)
            assert bot_gate(node, _intent(Side.BUY, AMOUNT, cancelled, low)) is None
            sent = await submit_as_bot(node, _intent(Side.BUY, AMOUNT, cancelled, low))
            assert sent.status == "submitted", sent
            why = bot_gate(node, _intent(Side.BUY, AMOUNT, cancelled, low))  # a second re-send
            assert why is not None and why[0] == "BOT_COOLDOWN", why
    finally:
        await r.http.aclose()
        node.close()


async def test_a_re_send_is_held_by_the_cooldown_a_later_trade_started(tmp_path, data_dir):
    # only the cooldown the cancelled entry's own send started is skipped: the bot's sale made
    # while that entry rested starts a cooldown the re-send is held to, as any entry is
    async with _gamma(tmp_path, data_dir, one_position_per_symbol=False) as node:
        held = await submit_as_bot(node, OrderIntent("gamma", "paper", SYMBOL, Side.BUY, AMOUNT,
                                                     OrderType.MARKET))  # fmt: skip
        assert held.ok, held
        for _ in range(11):  # its cooldown (600 s) runs out
            await quote(node, mid(node))
        assert held.order is not None and held.order.status is OrderStatus.FILLED
        low = (mid(node) * Decimal("0.99")).quantize(Decimal("0.01"))
        entry = await submit_as_bot(node, _intent(Side.BUY, AMOUNT, "", low))
        assert entry.status == "submitted" and entry.order is not None, entry
        await quote(node, mid(node))
        high = (mid(node) * Decimal("1.01")).quantize(Decimal("0.01"))
        sale = await submit_as_bot(node, OrderIntent("gamma", "paper", SYMBOL, Side.SELL, AMOUNT,
                                                     OrderType.LIMIT, high))  # fmt: skip
        assert sale.status == "submitted", sale  # a close: it starts a cooldown of its own
        await _time_out(node, "gamma", 90)  # the entry is due (120 s old), the sale not (60 s)
        assert entry.order.status is OrderStatus.CANCELLED and sale.order is not None
        assert sale.order.is_open
        with _re_sending(node, entry.order.client_order_id):
            why = bot_gate(node, _intent(Side.BUY, AMOUNT, entry.order.client_order_id, low))
        assert why is not None and why[0] == "BOT_COOLDOWN", why


async def test_an_entry_cancelled_by_hand_is_no_timeout_re_send(tmp_path, data_dir):
    # an entry the user cancelled (the API's or CLI's cancel, a kill) did not time out: a bot
    # strategy naming it as replaced is a new entry, held to the cooldown its first send started
    async with _gamma(tmp_path, data_dir) as node:
        low = (mid(node) * Decimal("0.99")).quantize(Decimal("0.01"))
        entry = await submit_as_bot(node, _intent(Side.BUY, AMOUNT, "", low))
        assert entry.status == "submitted" and entry.order is not None, entry
        await quote(node, mid(node))
        await node.orders.cancel(entry.order.client_order_id)
        assert entry.order.status is OrderStatus.CANCELLED
        why = bot_gate(node, _intent(Side.BUY, AMOUNT, entry.order.client_order_id, low))
        assert why is not None and why[0] == "BOT_COOLDOWN", why


async def test_a_re_send_timed_out_in_turn_is_re_sent_within_the_first_sends_cooldown(
    tmp_path, data_dir
):
    # the entry, its re-send and the re-send's own re-send carry on one signal: neither send
    # before holds the next back
    async with _gamma(tmp_path, data_dir) as node:
        low = (mid(node) * Decimal("0.99")).quantize(Decimal("0.01"))
        order = (await submit_as_bot(node, _intent(Side.BUY, AMOUNT, "", low))).order
        for _ in range(2):
            assert order is not None
            await _time_out(node, "gamma")
            assert order.status is OrderStatus.CANCELLED
            with _re_sending(node, order.client_order_id):
                again = await submit_as_bot(
                    node, _intent(Side.BUY, AMOUNT, order.client_order_id, low)
                )
            assert again.status == "submitted", again
            order = again.order
        assert len(BotRows(node.db).trades("gamma", limit=10)) == 3
