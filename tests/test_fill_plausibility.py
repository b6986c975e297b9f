"""A fill no venue could have made (NaN, infinite or negative amount or price) is not booked.

Venue parsers check what they read, but any venue (a ccxt exchange answering through a proxy,
a new adapter) hands its fills to the same order manager: the last check lives there.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from test_api_support import replayed_node, resting_buy
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill


def _fill(cid: str, trade_id: str, price: str, amount: str, fee: str = "0") -> Fill:
    return Fill(
        "paper", "BTC/USDT", cid, "v1", trade_id, Side.BUY, Decimal(price), Decimal(amount),
        Decimal(fee), "USDT", LiquiditySide.MAKER, 1_640_995_200_000,
    )  # fmt: skip


async def test_implausible_fills_are_refused_by_name_and_a_good_one_still_books(
    tmp_path, data_dir, caplog
):
    node = await replayed_node(tmp_path, data_dir, rows=30)
    try:
        cid = await resting_buy(node)
        fills_before = node.storage.count_fills()
        position = node.portfolio.position("paper", "BTC/USDT", "manual")
        qty_before = position.quantity
        hostile = [
            _fill(cid, "t-neg", "46000", "-0.0004"),
            _fill(cid, "t-nan", "46000", "NaN"),
            _fill(cid, "t-inf", "Infinity", "0.0001"),
            _fill(cid, "t-negpx", "-46000", "0.0001"),
            _fill(cid, "t-fee", "46000", "0.0001", fee="NaN"),
        ]
        for fill in hostile:
            node.orders.on_fill(fill)
        order = node.orders.orders[cid]
        assert order.filled == 0 and order.trade_ids == set()
        assert node.portfolio.position("paper", "BTC/USDT", "manual").quantity == qty_before
        assert node.storage.count_fills() == fills_before
        refused = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert refused == [
            f"fill t-neg of {cid} on paper refused: amount -0.0004 is not a finite number >= 0",
            f"fill t-nan of {cid} on paper refused: amount NaN is not a finite number >= 0",
            f"fill t-inf of {cid} on paper refused: price Infinity is not a finite number >= 0",
            f"fill t-negpx of {cid} on paper refused: price -46000 is not a finite number >= 0",
            f"fill t-fee of {cid} on paper refused: fee NaN is not a finite number",
        ]
        node.orders.on_fill(_fill(cid, "t-ok", "46000", "0.0001"))
        assert node.orders.orders[cid].filled == Decimal("0.0001")
    finally:
        node.close()
