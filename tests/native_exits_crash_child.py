"""Child process: a sandbox node whose bot enters with SL+TP; SIGKILLed around the OCO.

argv: config.json moment, where moment is `entry_stored` (the bot desk stored the trade and its
exit plan, the entry never journaled), `entry_journaled` (the entry journaled, never sent),
`entry_sent` (the venue took the entry, the bot desk never heard back), `before_oco` (the entry
filled, the OCO never sent) or `after_oco` (the OCO journaled and placed, the exit plan not yet
told); or, with a trailing stop whose move the parent sets off by raising the price once the
first OCO rests, `move_cancel` (the move saved, the resting pair not yet cancelled) or
`move_place` (the pair cancelled, the moved pair never sent); or, with a second entry adding to
the position once the first OCO rests, `add_cancel` (the replacement saved, the first pair not
yet cancelled) or `add_place` (the first pair cancelled, the pair for the whole position never
sent); or, once the entry's OCO rests, with the bot selling its position, `close_cancel`
(the close lifting the pair, its cancel not yet sent) or `close_send` (the pair cancelled, the
close never journaled).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from native_exits_support import KEY, add_alpha, enter
from tradeguard.api.bot_desk import BotDesk
from tradeguard.config import Config
from tradeguard.node import TradingNode


async def main() -> None:
    cfg = Config.model_validate(json.loads(Path(sys.argv[1]).read_text()))
    moment = sys.argv[2]
    node = TradingNode(cfg)
    adding = moment.startswith("add_")
    add_alpha(node, one_position_per_symbol=not adding)
    await node.start()
    live = asyncio.create_task(node.run_live(duration_s=60))
    place = node.orders.submit_oco

    async def die(*intents: Any) -> Any:
        if moment == "after_oco":
            results = await place(*intents)
            ids = [r.order.client_order_id for r in results if r.order is not None]
            print(json.dumps({"placed": ids}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    cancel = node.orders.cancel

    async def place_then_die_later(*intents: Any) -> Any:
        if moment in ("move_place", "add_place") and placed:
            os.kill(os.getpid(), signal.SIGKILL)
        results = await place(*intents)
        placed.extend(r.order.client_order_id for r in results if r.order is not None)
        print(json.dumps({"placed": placed}), flush=True)
        return results

    async def cancel_or_die(cid: str) -> Any:
        if moment in ("move_cancel", "add_cancel"):
            os.kill(os.getpid(), signal.SIGKILL)
        return await cancel(cid)

    venue = node.venues["binance"]
    send = venue.submit

    async def send_then_die(order: Any) -> Any:
        await send(order)
        print(json.dumps({"entry": order.client_order_id}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    journal = node.orders.journal_submitted

    def journal_or_die(orders: Any, now: int, reason: str = "") -> None:
        if moment == "entry_journaled":
            journal(orders, now, reason)
        print(json.dumps({"entry": orders[0].client_order_id}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    placed: list[str] = []
    exits = {"stop_loss_pct": "2", "take_profit_pct": "5"}
    if moment == "entry_sent":
        venue.submit = send_then_die  # type: ignore[method-assign]
    elif moment in ("entry_stored", "entry_journaled"):
        node.orders.journal_submitted = journal_or_die  # type: ignore[method-assign]
    elif moment.startswith("close_"):
        pass
    elif moment.startswith(("move_", "add_")):
        node.orders.submit_oco = place_then_die_later  # type: ignore[method-assign]
        node.orders.cancel = cancel_or_die  # type: ignore[method-assign]
    else:
        node.orders.submit_oco = die  # type: ignore[method-assign]
    if moment.startswith("move_"):
        exits = {"stop_loss_pct": "2", "take_profit_pct": "10", "trailing_activation_pct": "1",
                 "trailing_distance_pct": "1"}  # fmt: skip
    while node.market.mid("BTC/USDT") != Decimal(50000):
        await asyncio.sleep(0.01)
    trade = await enter(node, **exits)
    print(json.dumps({"entry": trade["client_order_id"]}), flush=True)
    if adding:  # once the first pair rests, a second entry adds to the position
        while not placed:
            await asyncio.sleep(0.01)
        trade = await enter(node, **exits)
        print(json.dumps({"added": trade["client_order_id"]}), flush=True)
    if moment.startswith("close_"):
        await close_and_die(node, moment, cancel, journal)
    await live
    print(json.dumps({"unexpected": "not killed"}), flush=True)


async def close_and_die(node: TradingNode, moment: str, cancel: Any, journal: Any) -> None:
    """Once the pair rests, the bot sells its position; die at the cancel or at the close."""
    while len(getattr(node.bot_exits.plans.get(KEY), "native_orders", [])) != 2:
        await asyncio.sleep(0.01)
    print(json.dumps({"placed": node.bot_exits.plans[KEY].native_orders}), flush=True)

    async def cancel_or_die(cid: str) -> Any:
        if moment == "close_cancel":
            os.kill(os.getpid(), signal.SIGKILL)
        return await cancel(cid)

    def journal_or_die(orders: Any, now: int, reason: str = "") -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    node.orders.cancel = cancel_or_die  # type: ignore[method-assign]
    node.orders.journal_submitted = journal_or_die  # type: ignore[method-assign]
    desk = BotDesk.for_node(node)
    ask = {"symbol": "BTC/USDT", "side": "sell"}
    conf = desk.validate("alpha", ask)["confirmation_id"]
    await desk.execute("alpha", {**ask, "confirmation_id": conf}, by="test")


asyncio.run(main())
