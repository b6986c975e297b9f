"""Telling whether a bot's timed-out entry was re-sent already is a lookup by its id: the bot
gate reads no other order, however many the run holds (it ran once per re-send over them all)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from bots_support import mid
from test_bots_resend_cooldown import AMOUNT, _gamma, _intent, _re_sending, _time_out
from tradeguard.model.enums import OrderStatus, Side
from tradeguard.node.bot_strategy import bot_gate, submit_as_bot


class _Watched(dict[str, Any]):
    """An order's signal that counts the reads of "replaces" (a scan of the run's orders)."""

    reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        if key == "replaces":
            _Watched.reads += 1
        return super().get(key, default)


async def test_a_re_send_reads_no_other_order_of_the_run(tmp_path, data_dir):
    async with _gamma(tmp_path, data_dir) as node:
        low = (mid(node) * Decimal("0.99")).quantize(Decimal("0.01"))
        entry = await submit_as_bot(node, _intent(Side.BUY, AMOUNT, "", low))
        assert entry.order is not None
        await _time_out(node, "gamma")
        assert entry.order.status is OrderStatus.CANCELLED
        old = entry.order.client_order_id
        for i in range(2000):  # the bot's earlier orders, filled long ago
            done = copy.copy(entry.order)
            done.client_order_id = f"tg-done-{i}"
            done.signal = _Watched()
            node.orders.orders[done.client_order_id] = done
        _Watched.reads = 0
        with _re_sending(node, old):
            assert bot_gate(node, _intent(Side.BUY, AMOUNT, old, low)) is None
            sent = await submit_as_bot(node, _intent(Side.BUY, AMOUNT, old, low))
            assert sent.status == "submitted", sent
            why = bot_gate(node, _intent(Side.BUY, AMOUNT, old, low))  # a second re-send
            assert why is not None and "cooling down" in why[1], why
        assert _Watched.reads == 0  # was: 2000 per re-send
