"""What the kill's follow-up does when its flatten cannot or need not go out. Sandbox venue (real
ccxt), a node started again while the follow-up waits (the close it waits for rests on the
venue):

- its flatten refused by the risk engine (no price to cap it: the venue's book is empty)
  is no order sent: it spends none of `node.kill_follow_up_max_orders`, and the follow-up ends
  after `node.kill_follow_up_max_denials` refusals saying so;
- the position sold by hand on the venue meanwhile (the close cancelled there, the coins sold):
  the follow-up reads what the account holds after start-up's reconciliation and sells no more
  than that, or ends with the reason when nothing is left.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kill_follow_support import alice_sells, held, kill_and_flatten
from native_exits_support import native_config
from node_support import trading_live
from test_bot_close_oco import bot_coins_only
from tradeguard.config import Config
from tradeguard.node import TradingNode
from tradeguard.sandbox.client import make_ccxt_client
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually

pytestmark = pytest.mark.usefixtures("vault_env")
D = Decimal
STEP = D("0.00001")


def _entry(node: TradingNode) -> dict[str, Any]:
    follow = (node.risk.last_kill or {}).get("follow_up") or [{}]
    return dict(follow[0])


async def _killed_and_stopped(ex: SandboxExchange, cfg: Config) -> str:
    """A node killed with flatten while its close of 0.001 BTC rests on the venue; the kill's
    flatten filled, the node stopped with its follow-up waiting. Return the close's id."""
    node = TradingNode(cfg)
    await node.start()
    async with trading_live(node):
        await node.ensure_market_data("binance", "BTC/USDT")
        listed, _ = await kill_and_flatten(node)
        assert _entry(node)["status"] == "waiting"
    return listed


async def test_flattens_the_risk_engine_refuses_are_not_counted_as_orders_sent(tmp_path):
    async with bot_coins_only() as ex:
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        cfg.node.kill_follow_up_max_denials = 4
        cfg.node.subscribe_wait_s = 0.2
        listed = await _killed_and_stopped(ex, cfg)
        ex.set_book("BTCUSDT", bids=[], asks=[])  # no quote: no price to cap a market order
        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node):
            assert node.market.mid("BTC/USDT") is None
            await node.orders.cancel(listed)  # the close ends: the rest is the follow-up's
            await eventually(lambda: _entry(node)["status"] != "waiting", 60)
            done = _entry(node)
            assert done["status"] == "failed", done
            assert (done["attempts"], done["sent"], done["denied"]) == (0, [], 4), done
            assert "refused by the risk engine 4 times, never sent" in done["reason"], done
            assert "(node.kill_follow_up_max_denials)" in done["reason"], done
            assert "no reference price for BTC/USDT" in done["reason"], done
            assert "flatten orders" not in done["reason"], done
            assert held(node) > D("0.0009")  # still open, and said so
        assert len(alice_sells(ex)) == 2  # the close (cancelled) and the kill's flatten only


@pytest.mark.parametrize(("sold", "left"), [("0.001", "0"), ("0.0006", "0.0004")])
async def test_a_position_sold_by_hand_meanwhile_is_never_sold_again(tmp_path, sold, left):
    async with bot_coins_only() as ex:  # alice holds only the BTC the node bought
        cfg = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False)
        listed = await _killed_and_stopped(ex, cfg)
        hand = make_ccxt_client(ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False)
        try:  # by hand on the venue: the close cancelled, then coins sold
            await hand.load_markets()
            [close] = await hand.fetch_open_orders("BTC/USDT")
            assert close["clientOrderId"] == listed
            await hand.cancel_order(close["id"], "BTC/USDT")
            await hand.create_order("BTC/USDT", "market", "sell", float(sold))
        finally:
            await hand.close()
        node = TradingNode(cfg)
        await node.start()  # reconciles the journal and balances with the venue first
        async with trading_live(node):
            await eventually(lambda: _entry(node)["status"] != "waiting", 60)
            done = _entry(node)
            assert done["status"] == "closed", done
            sells = alice_sells(ex)
            if left == "0":
                assert "sold outside the node; nothing left to sell" in done["reason"], done
                assert (done["attempts"], done["sent"]) == (0, []), done
                assert len(sells) == 3, sells  # the close, the kill's flatten, the hand's
            else:  # the rest the account holds, and no more
                assert done["attempts"] == 1 and len(done["sent"]) == 1, done
                assert node.orders.orders[done["sent"][0]].amount == D(left)
                assert sells[3:] == [D(left)], sells
            # what was bought, sold once: left on the venue only the fee's dust below a lot
            assert sum(sells) <= D("0.002"), sells
            assert sum(ex.balances(ALICE_KEY)["BTC"]) < STEP
