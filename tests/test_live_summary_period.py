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


async def test_live_candles_set_the_period_from_the_earliest_open_to_the_latest_close(
    tmp_path, data_dir
):
    # a live run's period is the backtests' one rule: the earliest open time to the latest
    # close time. It ran from the first candle's open to the last one's open, a 5m candle
    # after a 1h one (opening later, closing earlier) made it start at the later open.
    from tradeguard.model.market import Candle
    from tradeguard.node.feed import NodeFeed

    data = write_slice(data_dir, tmp_path / "btc.csv", 5)
    node = build_node(paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False))
    t0 = 1_796_500_800_000
    hour = Candle("BTC/USDT", t0, D(50_000), D(50_100), D(49_900), D(50_050), D(3), 3600)
    five = Candle("BTC/USDT", t0 + 3_300_000, D(50_000), D(50_100), D(49_900), D(50_050), D(1), 300)
    try:
        feed = NodeFeed(node)
        await feed.on_live_candle(five, warmup=False)  # 00:55-01:00
        await feed.on_live_candle(hour, warmup=False)  # 00:00-01:00, closed at the same time
        summary = node.summary()
        assert (summary.first_ts, summary.last_ts) == (t0, t0 + 3_600_000)
        await node.on_quote(Quote("BTC/USDT", t0 + 3_700_000, D(50_000), D(1), D(50_001), D(1)))
        assert node.summary().last_ts == t0 + 3_700_000  # a quote is an instant: open = close
    finally:
        node.close()
