"""The live loop reads exchange balances between reconciliations and takes the venue's figures."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from node_support import trading_live
from tradeguard.config import Config
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model import OrderIntent, OrderType, Side
from tradeguard.model.enums import LiquiditySide
from tradeguard.model.events import Event, EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.market import Quote
from tradeguard.model.order import Order
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually, seeded_exchange


def _config(tmp_path: Path, rest_url: str, ws_url: str, interval_s: float) -> Config:
    return Config.model_validate(
        {
            "mode": "sandbox",
            "node": {
                "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
                "kill_sentinel": str(tmp_path / "tg.kill"),
                # only the balance sync may notice the deposit within the test
                "reconcile_interval_s": 3600,
            },
            "reconcile": {"balance_sync_interval_s": interval_s},
            "venues": [
                {
                    "name": "binance",
                    "kind": "ccxt",
                    "exchange": "binance",
                    "credentials": "alice",
                    "rest_url": rest_url,
                    "ws_url": ws_url,
                    "symbols": ["BTC/USDT"],
                }
            ],
            "strategies": [],
        }
    )


def _bnb_exchange(
    held: dict[str, Decimal] | None = None, *, bnb_fees: bool | None = None
) -> SandboxExchange:
    """The seeded exchange with a BNB/USDT market (599 / 601) and Alice holding `held`."""
    ex = seeded_exchange()
    ex.add_market("BNBUSDT", "BNB", "USDT", "0.1", "0.001", "0.001", "5")
    ex.set_book("BNBUSDT", bids=[("599", "10")], asks=[("601", "10")])
    ex.add_account(ALICE_KEY, ALICE_SECRET, held or {"BNB": Decimal(50)}, bnb_fees=bnb_fees)
    return ex


def _watched_node(tmp_path: Path, ex: SandboxExchange) -> tuple[TradingNode, list[Event]]:
    """A node on `ex` syncing balances every 0.05 s, and the list of every event it sends."""
    node = TradingNode(_config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0.05))
    events: list[Event] = []
    node.bus.subscribe(events.append)
    return node, events


def _discrepancies(events: list[Event]) -> list[tuple[str, Decimal]]:
    found = [e for e in events if e.kind == EventKind.BALANCE_DISCREPANCY]
    return [(e.data["asset"], Decimal(e.data["difference"])) for e in found]


async def _bought_at_market(node: TradingNode) -> Fill:
    """Buy 0.001 BTC at market on a quote of 49,999 / 50,001; the one fill booked."""
    await node.on_quote(Quote("BTC/USDT", node.clock.now_ms(), Decimal(49_999), Decimal(1),
                              Decimal(50_001), Decimal(1)))  # fmt: skip
    intent = OrderIntent("manual", "binance", "BTC/USDT", Side.BUY, Decimal("0.001"),
                         OrderType.MARKET)  # fmt: skip
    result = await node.orders.submit(intent)
    assert result.ok, result
    await eventually(lambda: bool(node.storage.load_fills()))
    [fill] = node.storage.load_fills()
    return fill


@pytest.mark.usefixtures("vault_env")
async def test_deposit_seen_by_the_balance_sync_is_recorded_as_a_discrepancy(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        node, events = _watched_node(tmp_path, ex)
        await node.start()
        book = node.portfolio.book("binance")
        assert book.total("USDT") == Decimal(100_000)
        async with trading_live(node, duration_s=20):
            # A deposit made outside the engine: no order, no stream message announces it.
            ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": Decimal(250)})
            await eventually(lambda: book.total("USDT") == Decimal(100_250))
            assert _discrepancies(events) == [("USDT", Decimal(250))]
            newest = node.storage.load_balance_adjustments("binance")[0]
            assert (newest["asset"], newest["ledger_total"], newest["venue_total"]) == (
                "USDT", Decimal(100_000), Decimal(100_250),
            )  # fmt: skip
            stored = {b.asset: b.total for b in node.storage.load_balances("binance")}
            assert stored["USDT"] == Decimal(100_250)


@pytest.mark.usefixtures("vault_env")
async def test_balance_sync_is_off_for_paper_venues_and_when_its_interval_is_zero(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        node = TradingNode(_config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0))
        try:
            assert node.balance_sync() is None
        finally:
            node.close()
    paper = Config.model_validate({"node": {"database_url": f"sqlite:///{tmp_path / 'p.db'}"}})
    paper_node = TradingNode(paper)
    try:
        assert paper_node.balance_sync() is None
    finally:
        paper_node.close()


@pytest.mark.usefixtures("vault_env")
async def test_bnb_held_for_fees_is_priced_from_a_market_no_strategy_trades(
    tmp_path: Path,
) -> None:
    async with _bnb_exchange({"BNB": Decimal(2), "XYZ": Decimal(7)}) as ex:
        node = TradingNode(_config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0.05))
        portfolio = node.portfolio
        fee = Fill("binance", "BTC/USDT", "c1", "v1", "t1", Side.BUY, Decimal(50_000),
                   Decimal("0.01"), Decimal("0.001"), "BNB", LiquiditySide.TAKER, 1)  # fmt: skip
        assert portfolio.valued_fee(fee).fee_quote is None  # unpriced: it would count 0
        portfolio.unvalued_fee_assets.clear()
        await node.start()  # the node trades BTC/USDT only; start reads BNB's price once
        assert portfolio.price_of("BNB") == Decimal(600)
        async with trading_live(node, duration_s=20):
            await eventually(lambda: portfolio.price_of("BNB") == Decimal(600))
            book = portfolio.book("binance").all()
            assert portfolio.values_of(book)["BNB"] == Decimal(1200)  # in the equity now
            assert "XYZ" not in portfolio.values_of(book)  # no venue lists a market for it
            status = node.reference_prices().status()
            assert (status["BNB"], status["XYZ"]) == ("binance BNB/USDT", "none")
            assert portfolio.valued_fee(fee).fee_quote == Decimal("0.6")
            ex.set_book("BNBUSDT", bids=[("699", "10")], asks=[("701", "10")])
            await eventually(lambda: portfolio.price_of("BNB") == Decimal(700))  # refreshed

            def stored_bnb() -> object:
                rows = node.storage.load_balance_rows("binance")
                return next(r["usd_value"] for r in rows if r["asset"] == "BNB")

            await eventually(lambda: stored_bnb() == Decimal(1400))  # the pass stores it next
            # BTC too had no price (no strategy streams it): a ticker read marks it, until a
            # stream does; then the stream's fresher marks are left alone.
            assert status["BTC"] == "binance BTC/USDT"
            # (Binance's stream: its messages carry the venue and the venue's time)
            await node.on_quote(Quote("BTC/USDT", node.clock.now_ms(), Decimal(51_000),
                                      Decimal(1), Decimal(51_002), Decimal(1),
                                      venue="binance"))  # fmt: skip
            await eventually(lambda: "BTC" not in node.reference_prices().status())
            await asyncio.sleep(0.2)  # more passes
            assert portfolio.price_of("BTC") == Decimal(51_001)


@pytest.mark.usefixtures("vault_env")
async def test_a_fee_the_exchange_takes_in_bnb_is_valued_booked_and_audited(tmp_path: Path) -> None:
    async with _bnb_exchange({"BNB": Decimal(2)}, bnb_fees=True) as ex:
        node = TradingNode(_config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0.05))
        await node.start()
        async with trading_live(node, duration_s=20):
            await eventually(lambda: node.portfolio.price_of("BNB") == Decimal(600))
            fill = await _bought_at_market(node)
            # 0.1 % of 50.001 USDT, 25 % off, in BNB at 600: what Binance takes from BNB
            fee = (Decimal("50.001") * Decimal("0.00075") / 600).quantize(Decimal("1E-8"))
            assert (fill.fee_asset, fill.fee) == ("BNB", fee)
            assert fill.fee_quote == fee * 600  # valued when booked, not counted as 0
            pos = node.portfolio.positions[("binance", "BTC/USDT", "manual")]
            assert pos.quantity == Decimal("0.001")  # the whole amount bought: no fee in BTC
            assert pos.fees == fee * 600
            book = node.portfolio.book("binance")
            await eventually(lambda: book.total("BNB") == 2 - fee)
            venue = {b.asset: b.total for b in await node.venues["binance"].fetch_balances()}
            assert venue["BNB"] == 2 - fee and venue["BTC"] == Decimal("1.001")

            def stored(asset: str) -> object:
                rows = node.storage.load_balance_rows("binance")
                return next((r["total"] for r in rows if r["asset"] == asset), None)

            # The balance sync stores the venue's figures once the order is done with; the
            # ledger (start + fills - fees, the BNB fee included) must then equal them.
            await eventually(lambda: (stored("BTC"), stored("BNB")) == (Decimal("1.001"), 2 - fee))
            audit = node.audit_ledger()
            assert audit.ok, audit.reason()


@pytest.mark.usefixtures("vault_env")
async def test_a_restarted_node_values_held_bnb_at_once_from_the_kept_mark(
    tmp_path: Path,
) -> None:
    async with _bnb_exchange() as ex:
        cfg = _config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0.05)
        node = TradingNode(cfg)
        await node.start()
        async with trading_live(node, duration_s=20):
            await eventually(lambda: node.portfolio.price_of("BNB") == Decimal(600))
        # The ticker is slow now: the restarted node must not count BNB as 0 meanwhile.
        ex.faults.latency_ms_by_endpoint = {"/api/v3/ticker/24hr": 2000}
        again = TradingNode(cfg)
        await again.start()
        try:
            assert again.portfolio.price_of("BNB") == Decimal(600)
            assert again.reference_prices().status()["BNB"] == "binance BNB/USDT"
        finally:
            again.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_stream_mark_set_while_the_ticker_is_read_is_not_overwritten(
    tmp_path: Path,
) -> None:
    async with _bnb_exchange() as ex:
        ex.faults.latency_ms_by_endpoint = {"/api/v3/ticker/24hr": 500}
        node = TradingNode(_config(tmp_path, ex.rest_url, ex.ws_url, interval_s=3600))
        await node.start()
        try:
            refs = node.reference_prices()
            reading = asyncio.create_task(refs.refresh())
            await asyncio.sleep(0.2)  # the ticker request is out
            node.portfolio.mark("BNB/USDT", Decimal(700))  # a stream's fresher mark
            await reading
            assert node.portfolio.price_of("BNB") == Decimal(700)
        finally:
            node.close()


async def test_the_sandbox_refuses_a_bnb_fee_flag_that_is_no_boolean() -> None:
    import httpx

    async with seeded_exchange() as ex, httpx.AsyncClient(base_url=ex.base_url) as http:
        body = {"api_key": "k", "secret": "s", "bnb_fees": "false"}
        bad = await http.post("/admin/accounts", json=body)
        assert bad.status_code == 400 and "bnb_fees must be true or false" in bad.text
        ok = await http.post("/admin/accounts", json={**body, "bnb_fees": True})
        assert ok.status_code == 200
        assert ex.engine.accounts[ok.json()["account_id"]].bnb_fees is True


@pytest.mark.usefixtures("vault_env")
async def test_a_fresh_node_prices_its_fee_asset_before_trading_so_the_first_fee_counts(
    tmp_path: Path,
) -> None:
    async with _bnb_exchange({"BNB": Decimal(2)}, bnb_fees=True) as ex:
        cfg = _config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0)  # no balance sync pass
        cfg.node.reference_prices_interval_s = 0  # and no later reference pass: start alone
        node = TradingNode(cfg)
        await node.start()
        # the first order goes out at once: nothing but the start-up pass has priced BNB
        async with trading_live(node, duration_s=20):
            fill = await _bought_at_market(node)
            assert fill.fee_asset == "BNB" and fill.fee > 0
            assert fill.fee_quote == fill.fee * 600  # counted, not 0
            assert node.figures().fees == fill.fee * 600
            assert node.portfolio.unvalued_fee_assets == set()


@pytest.mark.usefixtures("vault_env")
async def test_a_venue_too_slow_for_the_start_up_pass_is_logged_and_start_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    async with _bnb_exchange() as ex:
        ex.faults.latency_ms_by_endpoint = {"/api/v3/ticker/24hr": 3000}
        cfg = _config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0)
        cfg.node.reference_prices_timeout_s = 0.2
        node = TradingNode(cfg)
        try:
            with caplog.at_level(logging.WARNING, "tradeguard.execution.reference_prices"):
                await node.start()
            assert node.portfolio.price_of("BNB") is None  # not read, and start went on
            assert node.risk.state.value == "ACTIVE"
            said = [r.getMessage() for r in caplog.records]
            assert any(
                "not read within 0.2 s (node.reference_prices_timeout_s)" in m and "BNB" in m
                for m in said
            ), said
            # a fee booked in BNB now counts 0, and the log says so
            fee = Fill(
                "binance", "BTC/USDT", "c9", "v9", "t9", Side.BUY, Decimal(50_000),
                Decimal("0.001"), Decimal("0.0001"), "BNB", LiquiditySide.TAKER, 1,
            )  # fmt: skip
            with caplog.at_level(logging.WARNING, "tradeguard.execution.order_manager"):
                node.orders.on_fill(fee)
            assert node.storage.load_fills()[0].fee_quote is None
            assert any(
                "fee 0.0001 BNB counts 0 in fees and P&L: no price for BNB yet" in r.getMessage()
                for r in caplog.records
            )
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_start_up_timeout_of_zero_skips_the_start_up_pass(tmp_path: Path) -> None:
    async with _bnb_exchange() as ex:
        cfg = _config(tmp_path, ex.rest_url, ex.ws_url, interval_s=0)
        cfg.node.reference_prices_timeout_s = 0
        node = TradingNode(cfg)
        try:
            await node.start()
            assert node.portfolio.price_of("BNB") is None  # left to the later passes
            await node.reference_prices().refresh()
            assert node.portfolio.price_of("BNB") == Decimal(600)
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_every_held_asset_is_priced_before_the_first_quote_so_equity_is_whole(
    tmp_path: Path,
) -> None:
    import time

    from tradeguard.model.enums import TradingState

    t0 = int(time.time() * 1000)
    later = t0 + 400_000  # the risk engine keeps its equity peak every 5 minutes

    ex = seeded_exchange()
    ex.add_market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "5")
    ex.set_book("ETHUSDT", bids=[("2999", "10")], asks=[("3001", "10")])
    ex.add_account(ALICE_KEY, ALICE_SECRET, {"USDT": Decimal(1000), "ETH": Decimal(100)})
    async with ex:
        config = _config(tmp_path, ex.rest_url, ex.ws_url, interval_s=3600)
        first = TradingNode(config)
        await first.start()
        try:
            # The quote of one held asset arrives before the other's: ETH must count already.
            await first.on_quote(Quote("BTC/USDT", t0, Decimal(49_999), Decimal(1),
                                       Decimal(50_001), Decimal(1)))  # fmt: skip
            assert first.portfolio.unpriced_assets() == []
            await first.on_quote(Quote("ETH/USDT", later, Decimal(2999), Decimal(1),
                                       Decimal(3001), Decimal(1)))  # fmt: skip
            # The run started from the whole equity (the ETH read from its ticker at 3,000).
            assert first.portfolio.price_of("ETH") == Decimal(3000)
            assert first.run_equity.start == first.portfolio.equity() > Decimal(300_000)
            first._checkpoint(first.clock.now_ms())
        finally:
            await first.stop()
            first.close()
        # Restarted: its stored equity peak must not meet an equity without the ETH in it.
        again = TradingNode(config)
        await again.start()
        try:
            await again.on_quote(Quote("BTC/USDT", later + 1, Decimal(49_999), Decimal(1),
                                       Decimal(50_001), Decimal(1)))  # fmt: skip
            assert again.risk.state is TradingState.ACTIVE, again.risk.state_reason
        finally:
            await again.stop()
            again.close()


async def test_a_venue_without_a_usable_quote_leaves_the_price_to_the_next_one_listing_it() -> None:
    from tradeguard.execution.reference_prices import ReferencePrices
    from tradeguard.model.balance import Balance
    from tradeguard.portfolio.portfolio import Portfolio

    class Listing:
        def __init__(self, quote: Quote | None) -> None:
            self.quote, self.asked = quote, 0

        def lists(self, symbol: str) -> bool:
            return symbol == "ETH/USDT"

        async def fetch_reference_quote(self, symbol: str) -> Quote | None:
            self.asked += 1
            return self.quote

    portfolio = Portfolio()
    portfolio.set_balances("b", [Balance("b", "ETH", Decimal(100))])
    # Venue "a" lists ETH/USDT but its book has no bids (a ticker with bid 0): no price there.
    one_sided = Listing(Quote("ETH/USDT", 1, Decimal(0), Decimal(0), Decimal(3001), Decimal(1)))
    whole = Listing(Quote("ETH/USDT", 1, Decimal(2999), Decimal(1), Decimal(3001), Decimal(1)))
    refs = ReferencePrices(portfolio, {"a": one_sided, "b": whole})  # type: ignore[dict-item]
    await refs.refresh()
    assert one_sided.asked == 1 and whole.asked == 1
    assert portfolio.price_of("ETH") == Decimal(3000)
    assert refs.status() == {"ETH": "b ETH/USDT"}


def _resting_buy(amount: str = "0.001") -> OrderIntent:
    # the best bid (the seeded book: 49,999 / 50,001), below the ask: it rests
    return OrderIntent(
        "manual", "binance", "BTC/USDT", Side.BUY, Decimal(amount), OrderType.LIMIT,
        Decimal(50_000),
    )  # fmt: skip


async def _resting_and_settled(
    node: TradingNode, amount: str = "0.001"
) -> tuple[Order, BalanceSync]:
    """Place a resting buy, then wait out the sync's "changed in the last 2 s" hold."""
    placed = await node.submit(_resting_buy(amount))
    assert placed.ok, placed.reason
    sync = node.balance_sync()
    assert sync is not None
    await asyncio.sleep(2.1)  # past the "changed in the last 2 s" wait
    return placed.order, sync


@pytest.mark.usefixtures("vault_env")
async def test_a_resting_order_no_longer_stops_the_sync_from_seeing_a_deposit(
    tmp_path: Path,
) -> None:
    # The sync used to wait while any order was open: a bot with a resting limit order never
    # synced. What an order reserves moves free to used and leaves the total as it was.
    async with seeded_exchange() as ex:
        node, events = _watched_node(tmp_path, ex)
        await node.start()
        book = node.portfolio.book("binance")
        async with trading_live(node, duration_s=30):
            placed = await node.submit(_resting_buy())
            assert placed.ok, placed.reason
            cid = placed.order.client_order_id
            await eventually(lambda: node.orders.orders[cid].venue_order_id != "")
            await eventually(lambda: book.get("USDT").locked == Decimal(50))  # the reserve
            ex.engine.add_account(ex.account_id(ALICE_KEY), {"USDT": Decimal(250)})
            await eventually(lambda: book.total("USDT") == Decimal(100_250))
            assert cid in node.orders.open  # still resting: the sync ran beside it
            assert book.get("USDT").locked == Decimal(50)  # the venue's reserve, kept
            # the deposit, and no false mismatch of the reserved USDT or of BTC
            assert _discrepancies(events) == [("USDT", Decimal(250))]
            assert book.total("BTC") == Decimal(1)


@pytest.mark.usefixtures("vault_env")
async def test_a_fill_the_ledger_has_not_booked_holds_the_sync_for_that_pass(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        node, events = _watched_node(tmp_path, ex)
        await node.start()
        try:
            order, sync = await _resting_and_settled(node)
            assert await sync.sync_once() == [] and sync.waiting == {}  # resting: synced
            # the user stream goes down, and the venue fills part of the order meanwhile: the
            # balances read over REST hold a fill the ledger has not booked
            ex.faults.update({"refuse_ws": True})
            ex.disconnect_websockets()
            ex.trade_through("BTCUSDT", "sell", "50000", "0.0004")
            assert order.filled == 0
            assert await sync.sync_once() == []
            why = sync.waiting["binance"]
            assert order.client_order_id in why and "0.0004 filled" in why, why
            assert _discrepancies(events) == []
            assert node.portfolio.book("binance").total("BTC") == Decimal(1)  # not adjusted
            assert node.storage.load_balance_adjustments("binance") == []
            ex.faults.update({"refuse_ws": False})
            # reconciliation asks the venue and books the missed fill: the next pass syncs
            assert (await reconcile_all(node, "periodic")).ok
            assert order.filled == Decimal("0.0004")
            await asyncio.sleep(2.1)
            assert await sync.sync_once() == [] and sync.waiting == {}  # booked: no mismatch
            # 0.0004 bought, less the 0.1 % fee the venue takes in BTC: the venue's figure
            assert node.portfolio.book("binance").total("BTC") == Decimal("1.0003996")
            assert node.storage.load_balance_adjustments("binance") == []
        finally:
            await node.stop()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_fill_booked_while_the_open_orders_are_read_is_no_adjustment(
    tmp_path: Path,
) -> None:
    # The balances are read, then the venue's open orders. A resting order that fills between
    # the two, booked from the user stream before the slow open-orders answer comes back, has
    # the same amount filled on both sides: the balances predate that fill, the ledger holds
    # it, and the difference must not become an adjustment (nor the ledger lose the fill).
    async with seeded_exchange() as ex:
        node, events = _watched_node(tmp_path, ex)
        await node.start()
        try:
            order, sync = await _resting_and_settled(node, "0.002")
            ex.faults.latency_ms_by_endpoint = {"/api/v3/openOrders": 2500}
            task = asyncio.create_task(sync.sync_once())
            await asyncio.sleep(0.4)  # the balances are read; the open orders are asked
            ex.trade_through("BTCUSDT", "sell", "50000", "0.0015")
            await eventually(lambda: order.filled == Decimal("0.0015"))  # booked (stream)
            book = node.portfolio.book("binance")
            assert book.total("BTC") == Decimal("1.0014985")
            found = await task
            assert found == []  # beyond the tolerance: it would be a false adjustment
            assert book.total("BTC") == Decimal("1.0014985")  # the fill kept
            assert "binance" in sync.waiting, sync.waiting
            assert _discrepancies(events) == []
            assert node.storage.load_balance_adjustments("binance") == []
            assert book.total("BTC") == Decimal("1.0014985")  # the fill kept
            ex.faults.latency_ms_by_endpoint = {}
            await asyncio.sleep(2.1)
            assert await sync.sync_once() == [] and sync.waiting == {}  # the next pass agrees
        finally:
            await node.stop()
            node.close()
