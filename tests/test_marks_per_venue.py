"""Two exchanges trading BTC/USDT at different prices (real ccxt against two sandboxes): each
venue's valuation, price band and bot stop read that venue's own price, never the other's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from bots_support import ALPHA
from node_support import trading_live
from tradeguard.api.bot_desk import BotDesk
from tradeguard.bots.spec import BotSpec
from tradeguard.config import Config
from tradeguard.marketdata.state import MarketState
from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.routing import source_index, strategies_for
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange
from tradeguard.storage.bot_rows import BotRows

SANDBOX = pytest.mark.usefixtures("vault_env")  # alice's key for both sandboxes
BTC = "BTC/USDT"
D = Decimal


def _venue(name: str, ex: SandboxExchange) -> dict[str, object]:
    return {"name": name, "kind": "ccxt", "exchange": "binance", "credentials": "alice",
            "rest_url": ex.rest_url, "ws_url": ex.ws_url, "symbols": [BTC],
            "native_exits": False}  # fmt: skip


def _config(tmp_path: Path, north: SandboxExchange, south: SandboxExchange) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "reconcile_interval_s": 3600},
        "reconcile": {"balance_sync_interval_s": 0},
        # the start values south's BTC at north's price until south's own arrives: loss limits
        # wide enough for that 10,000 USD step
        "risk": {"max_order_notional_usd": "500", "max_orders_per_s": "50",
                 "daily_loss_limit_usd": "50000", "weekly_loss_limit_usd": "50000",
                 "daily_loss_limit_pct": "25", "max_drawdown_pct": "50",
                 "price_band_pct": "10"},
        "venues": [_venue("north", north), _venue("south", south)],
        "strategies": [],
    })  # fmt: skip


def _at(ex: SandboxExchange, mid: int) -> None:
    """Put the sandbox's BTC book one dollar either side of `mid`."""
    ex.set_book("BTCUSDT", bids=[(str(mid - 1), "1")], asks=[(str(mid + 1), "1")])


@asynccontextmanager
async def _two_venues(
    tmp_path: Path,
) -> AsyncIterator[tuple[TradingNode, SandboxExchange, SandboxExchange]]:
    """A node on north (BTC at 50,000) and south (BTC at 40,000), with bot alpha on south,
    once it has seen both venues' quotes; yields the node and both sandboxes."""
    north, south = seeded_exchange(), seeded_exchange()
    _at(south, 40_000)
    async with north, south:
        node = TradingNode(_config(tmp_path, north, south))
        spec = BotSpec.parse("alpha", {**ALPHA, "venue": "south"})
        BotRows(node.db).save_bot("alpha", True, spec.to_doc(), node.clock.now_ms())
        await node.start()
        async with trading_live(node):
            for venue in ("north", "south"):
                await node.ensure_market_data(venue, BTC)
            await eventually(lambda: node.market.mid(BTC, "north") == D(50_000))
            await eventually(lambda: node.market.mid(BTC, "south") == D(40_000))
            yield node, north, south


def _limit_buy(venue: str, price: int) -> OrderIntent:
    return OrderIntent("desk", venue, BTC, Side.BUY, D("0.001"), OrderType.LIMIT, price=D(price))


@SANDBOX
async def test_each_venue_values_its_holdings_and_bands_its_orders_at_its_own_price(tmp_path):
    async with _two_venues(tmp_path) as (node, _, _):
        # Alice holds 100,000 USDT and 1 BTC on each exchange.
        assert node.portfolio.equity("north") == D(150_000)
        assert node.portfolio.equity("south") == D(140_000)
        assert node.portfolio.equity() == D(290_000)
        # 46,000 is inside north's 10 % band around 50,000 and outside south's around 40,000.
        north_buy = await node.submit(_limit_buy("north", 46_000))
        assert north_buy.ok, north_buy.reason
        south_buy = await node.submit(_limit_buy("south", 46_000))
        assert (south_buy.ok, south_buy.code) == (False, "PRICE_BAND"), south_buy.reason
        south_low = await node.submit(_limit_buy("south", 37_000))
        assert south_low.ok, south_low.reason


@SANDBOX
async def test_a_bot_stop_fires_on_its_venues_price_not_on_another_venues(tmp_path):
    async with _two_venues(tmp_path) as (node, north, south):
        desk = BotDesk.for_node(node)
        ask = {"symbol": BTC, "side": "buy", "score": "0.5"}
        conf = desk.validate("alpha", ask)["confirmation_id"]
        entry = await desk.execute(
            "alpha", {**ask, "confirmation_id": conf, "stop_loss_pct": "2"}, by="test"
        )
        assert entry["status"] == "submitted", entry
        key = "south|BTC/USDT|alpha"
        await eventually(lambda: key in node.bot_exits.plans and node.bot_exits.plans[key].active)
        pos = node.portfolio.positions[("south", BTC, "alpha")]
        assert D(39_000) < pos.avg_entry < D(41_000)  # bought at south's price, not north's
        seen: list[tuple[Decimal, str]] = []

        async def heard(symbol: str, price: Decimal, venue: str) -> None:
            seen.append((price, venue))

        node.price_listeners.append(heard)  # runs after the exit manager's listener
        _at(north, 39_000)  # under the stop (2 % under ~40,000), on the other exchange
        await eventually(lambda: (D(39_000), "north") in seen)
        exits = [o for o in node.orders.orders.values() if o.signal.get("exit")]
        assert exits == [] and node.bot_exits.plans[key].active
        # The position's own venue falls through the stop (2 % under ~40,000).
        _at(south, 38_000)
        await eventually(lambda: any(o.signal.get("exit") for o in node.orders.orders.values()))
        [stop] = [o for o in node.orders.orders.values() if o.signal.get("exit")]
        assert (stop.venue, stop.signal["exit"]) == ("south", "stop_loss")


def _quote(symbol: str, mid: int, venue: str = "") -> Quote:
    return Quote(symbol, 1, D(mid - 1), D(1), D(mid + 1), D(1), venue=venue)


def test_untagged_data_prices_every_venue_as_one_feed():
    market = MarketState()
    market.on_quote(_quote(BTC, 50_000))
    assert market.mid(BTC) == market.mid(BTC, "north") == market.mid(BTC, "south") == D(50_000)
    assert market.last_update_ms(BTC, "south") == 1


def test_a_venue_never_takes_another_venues_price_for_orders():
    market = MarketState()
    market.on_quote(_quote(BTC, 50_000, "north"))
    assert market.mid(BTC, "north") == D(50_000)
    assert market.mid(BTC, "south") is None and market.last_update_ms(BTC, "south") is None
    assert market.valuation_mid("south", BTC) == (D(50_000), True)
    market.on_quote(_quote(BTC, 40_000, "south"))
    assert (market.mid(BTC, "north"), market.mid(BTC, "south")) == (D(50_000), D(40_000))
    assert market.mid(BTC) == D(40_000)  # the symbol's latest, from whichever venue


def test_a_paper_venue_reads_its_data_venues_price_and_an_untied_one_any():
    market = MarketState()
    market.data_venue["paper"] = "south"
    market.untied.add("loose")
    market.on_quote(_quote(BTC, 40_000, "south"))
    market.on_quote(_quote(BTC, 50_000, "north"))
    assert market.mid(BTC, "paper") == D(40_000)
    assert market.mid(BTC, "loose") == D(50_000)
    assert market.follows("paper", "south") and not market.follows("paper", "north")


def test_each_book_is_valued_at_its_venues_marks_else_at_anothers_flagged():
    portfolio = Portfolio()
    for venue in ("north", "south", "east"):
        portfolio.set_balances(venue, [Balance(venue, "BTC", D(1))])
    portfolio.mark(BTC, D(50_000), "north")
    portfolio.mark(BTC, D(40_000), "south")
    assert portfolio.equity("north") == D(50_000)
    assert portfolio.equity("south") == D(40_000)
    assert portfolio.equity("east") == D(40_000)  # no price of its own: the latest of any
    assert portfolio.mark_of("south", BTC) == (D(40_000), False)
    assert portfolio.mark_of("east", BTC) == (D(40_000), True)


class _Strat:
    def __init__(self, venue: str) -> None:
        self.venue_symbols = {venue: (BTC,)}


def test_a_strategy_hears_the_quotes_of_the_venues_it_trades_only():
    market = MarketState()
    market.data_venue["paper"] = "south"
    market.untied.add("loose")
    north, paper, loose = _Strat("north"), _Strat("paper"), _Strat("loose")
    by_symbol = {BTC: [north, paper, loose]}
    index = source_index(by_symbol[BTC], market)
    assert strategies_for(by_symbol, index, BTC, "north") == [north, loose]
    assert strategies_for(by_symbol, index, BTC, "south") == [paper, loose]
    assert strategies_for(by_symbol, index, BTC, "") == [north, paper, loose]  # a replay


@SANDBOX
async def test_a_bot_close_is_sized_at_its_venues_price_not_anothers(tmp_path):
    async with _two_venues(tmp_path) as (node, _north, _south):
        desk = BotDesk.for_node(node)
        ask = {"symbol": BTC, "side": "buy", "score": "0.5"}
        conf = desk.validate("alpha", ask)["confirmation_id"]
        entry = await desk.execute("alpha", {**ask, "confirmation_id": conf}, by="test")
        assert entry["status"] == "submitted", entry
        key = ("south", BTC, "alpha")
        await eventually(lambda: key in node.portfolio.positions)
        qty = abs(node.portfolio.closable(node.portfolio.positions[key]))  # what a close sells
        await node.on_quote(_quote(BTC, 60_000, "north"))  # the other exchange, heard last
        assert node.market.mid(BTC) == D(60_000)
        close = desk.validate("alpha", {"symbol": BTC, "side": "sell", "score": "0.5"})
        assert close["approved"], close
        assert D(close["size_usd"]) == (qty * D(40_000)).quantize(D("0.01"))


@SANDBOX
async def test_a_kill_flatten_closes_a_position_on_a_venue_nobody_streams_yet(tmp_path):
    north, south = seeded_exchange(), seeded_exchange()
    _at(south, 40_000)
    async with north, south:
        node = TradingNode(_config(tmp_path, north, south))
        await node.start()
        async with trading_live(node):
            buy = OrderIntent("desk", "south", BTC, Side.BUY, D("0.001"), OrderType.MARKET)
            assert (await node.submit(buy)).ok
            await eventually(lambda: ("south", BTC, "desk") in node.portfolio.positions)
        # the next run streams BTC from north only: south's position has no price of its own
        node = TradingNode(_config(tmp_path, north, south))
        await node.start()
        async with trading_live(node):
            await node.ensure_market_data("north", BTC)
            await eventually(lambda: node.market.mid(BTC, "north") == D(50_000))
            assert node.portfolio.positions[("south", BTC, "desk")].quantity
            report = await node.kill("drill", "test", flatten=True)
            assert report["failed"] == [], report
            assert report["closed_positions"] == [f"south:{BTC}"]


def test_a_venue_taking_any_venues_data_values_at_it_unflagged(tmp_path):
    from node_support import paper_config

    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", tmp_path / "btc.csv", strategies=False)
    node = TradingNode(cfg)
    try:
        assert "paper" in node.market.untied  # no data_venue: any venue's price is its own
        node.portfolio.mark(BTC, D(50_000), "north")
        assert node.portfolio.mark_of("paper", BTC) == (D(50_000), False)
        assert node.portfolio.mark_of("south", BTC) == (D(50_000), True)
    finally:
        node.close()
