"""build_node wires one config; venues handed in replace the configured ones of that name."""

from __future__ import annotations

from decimal import Decimal

from node_support import paper_config, write_slice
from tradeguard.clock import SimulatedClock
from tradeguard.model import Instrument, OrderIntent, OrderType, Side
from tradeguard.node import build_node
from tradeguard.venues.paper import PaperVenue

BTC = Instrument(
    venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", price_tick=Decimal("0.01"),
    amount_step=Decimal("0.00001"), min_amount=Decimal("0.00001"), min_notional=Decimal(5),
    maker_fee=Decimal("0.001"), taker_fee=Decimal("0.001"),
)  # fmt: skip


async def test_a_given_venue_replaces_the_configured_one_on_the_order_path(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 80)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False)
    clock = SimulatedClock()
    mine = PaperVenue("paper", {"BTC/USDT": BTC}, {"USDT": Decimal(2500)}, clock)
    node = build_node(cfg, clock=clock, venues={"paper": mine})
    try:
        assert node.clock is clock
        assert node.venues["paper"] is mine
        # the ledger opens from the venue handed in, not from the configured 10,000 USDT
        assert node.portfolio.book("paper").free("USDT") == Decimal(2500)
        await node.start()
        await node.run()
        intent = OrderIntent(
            strategy_id="manual", venue="paper", symbol="BTC/USDT", side=Side.BUY,
            amount=Decimal("0.001"), type=OrderType.MARKET,
        )  # fmt: skip
        result = await node.submit(intent)
        assert result.ok, result.reason
        assert result.order is not None
        report = await mine.fetch_order(result.order.client_order_id, "BTC/USDT")
        assert report is not None and report.client_order_id == result.order.client_order_id
    finally:
        await node.stop()
        node.close()


async def test_a_venue_the_config_does_not_name_is_added(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False)
    extra = PaperVenue("extra", {}, {"USDT": Decimal(1)}, SimulatedClock())
    node = build_node(cfg, venues={"extra": extra})
    try:
        assert set(node.venues) == {"paper", "extra"}
        assert node.venues["extra"] is extra
        assert isinstance(node.venues["paper"], PaperVenue)
        assert node.venues["paper"] is not extra
    finally:
        node.close()
