"""A live or sandbox run's summary names the period its market events cover."""

from __future__ import annotations

from decimal import Decimal

from node_support import paper_config, write_slice
from tradeguard.cli.common import ts_text
from tradeguard.model.market import Quote
from tradeguard.node import build_node

D = Decimal


async def test_quotes_set_the_summary_period(tmp_path, data_dir):
    # A sandbox run that handled 462 quotes printed "Period  - → - UTC": only a replay's candles
    # set the period.
    data = write_slice(data_dir, tmp_path / "btc.csv", 5)
    node = build_node(paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False))
    try:
        for ts in (1_796_500_000_000, 1_796_500_060_000):
            await node.on_quote(Quote("BTC/USDT", ts, D(50_000), D(1), D(50_001), D(1)))
        summary = node.summary()
        assert (summary.first_ts, summary.last_ts) == (1_796_500_000_000, 1_796_500_060_000)
        assert ts_text(summary.first_ts) != "-"
    finally:
        node.close()
