"""`tradeguard record` captures a replaying sandbox's streams to files the loaders read back."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from live_support import btc_slice, replaying_sandbox
from tradeguard.cli.record import parse_duration
from tradeguard.marketdata.loaders import load_candles, load_quotes, load_trades
from tradeguard.model.errors import ConfigError


async def test_record_writes_candles_trades_and_quotes_in_the_shared_layout(
    tmp_path: Path,
) -> None:
    data = btc_slice(tmp_path, 300)
    out = tmp_path / "rec"
    async with replaying_sandbox(data, speed=600, history=100) as ex:
        cfg = tmp_path / "rec.toml"
        cfg.write_text(
            'mode = "sandbox"\nstrategies = []\n[[venues]]\nname = "sbx"\nkind = "ccxt"\n'
            f'exchange = "binance"\nrest_url = "{ex.rest_url}"\nws_url = "{ex.ws_url}"\n'
            'symbols = ["BTC/USDT"]\n'
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tradeguard.cli", "record", "--config", str(cfg),
            "--duration", "4s", "--out", str(out),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, stderr.decode()
        replay = ex.replays[0]
    assert "recorded" in stdout.decode()
    candles = load_candles(out / "candles" / "BTC_USDT-1m.feather")
    assert len(candles) >= 5
    for c in candles:  # the replayed bars, on the venue's shifted minutes
        bar = replay.bars[replay.history + (c.ts - replay.start_ms) // 60_000]
        assert (c.symbol, c.open, c.high, c.low, c.close) == (
            "BTC/USDT", bar.open, bar.high, bar.low, bar.close,
        )  # fmt: skip
    trades = load_trades(out / "trades" / "BTC_USDT-trades.parquet")
    by_minute = {c.ts: c for c in candles}
    covered = [t for t in trades if t.ts - t.ts % 60_000 in by_minute]
    assert len(covered) >= 8  # the sandbox prints four trades a bar
    for t in covered:  # every recorded trade lies inside its recorded minute's range
        bar = by_minute[t.ts - t.ts % 60_000]
        assert bar.low <= t.price <= bar.high
    assert len({t.trade_id for t in trades}) == len(trades)
    quotes = load_quotes(out / "orderbook" / "BTC_USDT-quotes.parquet")
    assert quotes and all(q.bid < q.ask for q in quotes)


def test_record_duration_reads_units_and_names_a_bad_value() -> None:
    assert [parse_duration(t) for t in ("90s", "30m", "1h", "2d", "5")] == [
        90, 1800, 3600, 172_800, 5,
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=r"record --duration '1y': expected a time like"):
        parse_duration("1y")
    with pytest.raises(ConfigError, match="at most 7 days"):
        parse_duration("8d")
