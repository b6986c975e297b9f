"""Two exchanges trading BTC/USDT at different prices (real ccxt against two sandboxes): USD
limits, exposure, equity and the drawdown halt read each venue's own prices, never whichever
venue ticked last; a paper venue is never left to fill on two venues' prices at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from node_support import trading_live
from test_api_support import bearer, build_app
from tradeguard.api.server import ApiServer
from tradeguard.config import Config
from tradeguard.marketdata.state import MarketState
from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.portfolio.combined import combine, holdings_of
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.risk.exposure import ExposureMeter
from tradeguard.risk.state import TradingState
from tradeguard.risk.valuation import Valuation
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually, seeded_exchange

SANDBOX = pytest.mark.usefixtures("vault_env")  # alice's key for both sandboxes
BTC, ETH_BTC = "BTC/USDT", "ETH/BTC"
D = Decimal
WAIT_S = 60.0  # generous: the machine may be loaded


def _venue(name: str, ex: SandboxExchange) -> dict[str, object]:
    return {"name": name, "kind": "ccxt", "exchange": "binance", "credentials": "alice",
            "rest_url": ex.rest_url, "ws_url": ex.ws_url, "symbols": [BTC, ETH_BTC],
            "native_exits": False}  # fmt: skip


def _config(tmp_path: Path, north: SandboxExchange, south: SandboxExchange, **risk: str) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {"database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                 "kill_sentinel": str(tmp_path / "tg.kill"), "reconcile_interval_s": 3600},
        "reconcile": {"balance_sync_interval_s": 0},
        "risk": {"max_orders_per_s": "50", "daily_loss_limit_usd": "50000",
                 "weekly_loss_limit_usd": "50000", "daily_loss_limit_pct": "25",
                 "price_band_pct": "10", **risk},
        "venues": [_venue("north", north), _venue("south", south)],
        "strategies": [],
    })  # fmt: skip


def _exchange() -> SandboxExchange:
    """A seeded sandbox (alice: 100,000 USDT and 1 BTC) that lists ETH/BTC at 0.05 too."""
    ex = seeded_exchange()
    ex.add_market("ETHBTC", "ETH", "BTC", "0.00001", "0.001", "0.001", "0.0001")
    ex.set_book("ETHBTC", bids=[("0.04999", "50")], asks=[("0.05001", "50")])
    return ex


def _at(ex: SandboxExchange, mid: int) -> None:
    """Put the sandbox's BTC book one dollar either side of `mid`."""
    ex.set_book("BTCUSDT", bids=[(str(mid - 1), "1")], asks=[(str(mid + 1), "1")])


@asynccontextmanager
async def _two_venues(
    tmp_path: Path, **risk: str
) -> AsyncIterator[tuple[TradingNode, SandboxExchange, SandboxExchange]]:
    """A node on north and south (BTC at 50,000 on both) once it has both venues' quotes."""
    north, south = _exchange(), _exchange()
    async with north, south:
        node = TradingNode(_config(tmp_path, north, south, **risk))
        await node.start()
        async with trading_live(node):
            for venue in ("north", "south"):
                await node.ensure_market_data(venue, BTC)
            await eventually(
                lambda: node.market.mid(BTC, "north") == node.market.mid(BTC, "south") == D(50_000),
                WAIT_S,
            )
            yield node, north, south


async def _move(node: TradingNode, ex: SandboxExchange, venue: str, mid: int) -> None:
    _at(ex, mid)
    await eventually(lambda: node.market.mid(BTC, venue) == D(mid), WAIT_S)


def _buy_eth(venue: str, amount: str) -> OrderIntent:
    return OrderIntent("desk", venue, ETH_BTC, Side.BUY, D(amount), OrderType.MARKET)


@SANDBOX
async def test_a_btc_quoted_order_is_valued_in_usd_at_its_own_venues_btc_price(tmp_path):
    async with _two_venues(tmp_path, max_order_notional_usd="500") as (node, north, south):
        await _move(node, south, "south", 40_000)
        await _move(node, north, "north", 60_000)  # north ticked last: the symbol's latest
        assert node.portfolio.marks[BTC] == D(60_000)
        # 0.2 ETH at about 0.05 BTC is 0.01 BTC: about 400 USD on south, 600 USD on north
        south_buy = await node.submit(_buy_eth("south", "0.2"))
        assert south_buy.ok, south_buy.reason
        north_buy = await node.submit(_buy_eth("north", "0.2"))
        assert (north_buy.ok, north_buy.code) == (False, "MAX_ORDER_NOTIONAL"), north_buy.reason
        assert "exceeds max_order_notional_usd=500" in north_buy.reason
        key = ("south", ETH_BTC, "desk")
        await eventually(lambda: key in node.portfolio.positions, WAIT_S)
        qty = node.portfolio.positions[key].quantity
        # exposure: the position at south's ETH/BTC price and south's BTC price
        exposure = ExposureMeter(D("0.1")).measure(node.orders, node.market, 0, D(1))
        eth_mid = node.market.mid(ETH_BTC, "south")
        assert eth_mid is not None
        assert exposure.heat_usd == qty * eth_mid * D("0.1") * D(40_000)


@SANDBOX
async def test_the_drawdown_halt_reads_each_venues_holdings_at_its_own_price(tmp_path):
    async with _two_venues(tmp_path, max_drawdown_pct="5") as (node, north, south):
        # alice holds 100,000 USDT and 1 BTC on each exchange: 300,000 USD at 50,000
        assert node.portfolio.equity() == D(300_000)
        assert node.run_equity.peak == D(300_000)
        # north's BTC falls 14,000: 4.67 % off the peak (south's BTC valued at north's price
        # would be 28,000, 9.3 %, and halt)
        await _move(node, north, "north", 36_000)
        assert node.portfolio.equity() == D(286_000)
        assert node.figures().equity == D(286_000)
        assert node.risk.state is TradingState.ACTIVE, node.risk.state_reason
        # GET /balances and /balances/combined show the figures equity sums
        balances, combined = await _get(node, "/api/v1/balances", "/api/v1/balances/combined")
        btc = {i["venue"]: D(i["value"]) for i in balances["items"] if i["asset"] == "BTC"}
        assert btc == {"north": D(36_000), "south": D(50_000)}
        assert D(combined["total_value"]) == D(286_000)
        # south's own BTC falls as far: 28,000 off the peak, 9.3 %
        await _move(node, south, "south", 36_000)
        assert node.portfolio.equity() == D(272_000)
        await eventually(lambda: node.risk.state is TradingState.HALTED, WAIT_S)
        assert "drawdown" in node.risk.state_reason


async def _get(node: TradingNode, *paths: str) -> list[Any]:
    """GET each path from the node's API over 127.0.0.1 with a viewer's token."""
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            answers = [await http.get(p, headers=bearer(tokens.viewer)) for p in paths]
    finally:
        await server.stop()
    assert [r.status_code for r in answers] == [200] * len(paths)
    return [r.json() for r in answers]


def test_a_venues_quote_currency_is_priced_at_its_own_marks_else_at_anothers():
    portfolio = Portfolio()
    portfolio.mark(BTC, D(40_000), "south")
    portfolio.mark(BTC, D(60_000), "north")
    portfolio.mark("ETH/USDT", D(3_000), "north")
    assert portfolio.price_on("south", "BTC") == D(40_000)
    assert portfolio.price_on("north", "BTC") == D(60_000)
    assert portfolio.price_on("east", "BTC") == D(60_000)  # no marks of its own: the latest
    assert portfolio.price_on("south", "ETH") == D(3_000)  # south cannot price ETH itself
    assert portfolio.price_on("south", "USDT") == D(1)
    assert portfolio.price_of("BTC") == D(60_000)  # the symbol's latest, from either venue


def test_a_btc_valuation_asset_is_worth_each_venues_own_usd_price():
    portfolio = Portfolio(valuation_asset="BTC")
    portfolio.mark(BTC, D(40_000), "south")
    portfolio.mark(BTC, D(60_000), "north")
    valuation = Valuation("BTC", None)
    assert valuation.refresh(portfolio) == D(60_000)  # the latest, from either venue
    assert valuation.usd_on(portfolio, "south") == D(40_000)
    assert valuation.usd_on(portfolio, "north") == D(60_000)
    assert valuation.usd_on(portfolio, "east") == D(60_000)  # no price of its own
    meter = ExposureMeter(D("0.1"))
    # the rate of a BTC-quoted position on south: south's BTC, whatever the valuation's
    assert meter.usd_rate("south", ETH_BTC, portfolio, D(60_000)) == D(40_000)  # type: ignore[arg-type]


def test_a_jump_on_one_venue_moves_only_that_venues_equity():
    portfolio = Portfolio()
    for venue in ("north", "south"):
        portfolio.set_balances(venue, [Balance(venue, "BTC", D(1))])
    portfolio.mark(BTC, D(50_000), "north")
    portfolio.mark(BTC, D(50_000), "south")
    portfolio.mark(BTC, D(10_000), "north")
    assert (portfolio.equity("north"), portfolio.equity("south")) == (D(10_000), D(50_000))
    assert portfolio.equity() == D(60_000)


def _paper_beside(*extra: dict[str, Any], **paper: Any) -> Config:
    venues = [{"name": "paper", "kind": "paper", **paper}]
    for name in ("north", "south"):
        venues.append({"name": name, "kind": "ccxt", "data_only": True})
    return Config.model_validate({"mode": "sandbox", "venues": [*venues, *extra]})


def test_a_paper_venue_beside_two_exchanges_must_name_the_one_it_fills_on():
    with pytest.raises(
        ValueError,
        match=r"venue 'paper': data_venue is not set and venues \['north', 'south'\] all "
        r"stream market data it would fill on.*set data_venue to the one it trades on",
    ):
        _paper_beside()
    cfg = _paper_beside(data_venue="south")
    assert cfg.venues[0].data_venue == "south"


def test_a_paper_venue_beside_one_exchange_or_another_kinds_needs_no_data_venue():
    Config.model_validate({
        "mode": "sandbox",
        "venues": [{"name": "paper", "kind": "paper"},
                   {"name": "north", "kind": "ccxt", "data_only": True},
                   {"name": "pm", "kind": "polymarket", "data_only": True}],
    })  # fmt: skip


@pytest.mark.parametrize("mode", ["paper", "backtest"])
def test_a_paper_venue_on_replays_needs_no_data_venue_beside_two_exchanges(mode):
    # paper and backtest runs replay [[data]] files and stream nothing: the exchange venues
    # (data-only ones read for reference prices, or kept for `record`) feed no fills
    cfg = Config.model_validate({
        "mode": mode,
        "venues": [{"name": "paper", "kind": "paper"},
                   {"name": "north", "kind": "ccxt", "data_only": True},
                   {"name": "south", "kind": "ccxt", "exchange": "kraken", "data_only": True}],
        "data": [],
    })  # fmt: skip
    assert cfg.venues[0].data_venue is None


def test_equity_values_a_venues_holding_at_its_own_prices_as_the_balances_views_do():
    # south prices ETH itself (ETH/BTC and BTC/USDT there); only north lists ETH/USDT
    portfolio = Portfolio()
    for venue in ("north", "south"):
        portfolio.set_balances(venue, [Balance(venue, "ETH", D(1))])
    portfolio.mark("ETH/USDT", D(3_000), "north")
    portfolio.mark(ETH_BTC, D("0.05"), "south")
    portfolio.mark(BTC, D(40_000), "south")
    assert portfolio.price_on("south", "ETH") == D(2_000)  # GET /balances, balance totals
    view = combine(holdings_of(portfolio), "USDT")  # GET /balances/combined
    assert view.venue_values == {"north": D(3_000), "south": D(2_000)}
    # equity (the loss and drawdown halts) reads the same figure, not north's ETH/USDT
    assert (portfolio.equity("south"), portfolio.equity("north")) == (D(2_000), D(3_000))
    assert portfolio.equity() == view.total_value == D(5_000)


class _Ledger(Portfolio):
    def open_orders(self) -> list[Any]:
        return []


def test_exposure_marks_a_position_at_its_own_venues_mid_not_the_latest():
    market, ledger = MarketState(), _Ledger()
    for venue, mid, ts in (("south", 40_000, 1_000), ("north", 60_000, 2_000)):  # north last
        market.on_quote(Quote(BTC, ts, D(mid - 1), D(1), D(mid + 1), D(1), venue=venue))
    ledger.position("south", BTC, "desk").apply(Side.BUY, D(50_000), D(1), D(0), 1_000)
    exposure = ExposureMeter(D("0.1")).measure(ledger, market, 3_000, D(1))
    assert exposure.heat_usd == D(4_000)  # 1 BTC at south's 40,000, 10 % assumed to the stop
