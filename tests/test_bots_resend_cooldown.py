"""Only the timeout re-send of a bot's own cancelled entry passes the cooldown its first send
started: once, on the same side, for no more than it left; any other intent naming an order it
"replaces" is held to the cooldown as any entry."""

from __future__ import annotations

from decimal import Decimal

from bots_support import SYMBOL, add_bot, mid, quote, rig
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node.bot_strategy import bot_gate, submit_as_bot

AMOUNT = Decimal("0.0004")


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
        resting = await node.orders.submit(_intent(Side.BUY, AMOUNT, "", low))
        assert resting.order is not None
        await node.orders.cancel(resting.order.client_order_id)
        assert resting.order.status is OrderStatus.CANCELLED
        cancelled = resting.order.client_order_id
        cooling = [
            _intent(Side.BUY, AMOUNT, filled, low),  # a filled order is no timed-out entry
            _intent(Side.BUY, AMOUNT * 2, cancelled, low),  # more than it left
            _intent(Side.BUY, AMOUNT, "tg-no-such-order", low),
        ]
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
