"""Replay of recorded candles, the demo random walk, klines folding, and the request log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from tradeguard.marketdata.loaders import load_candles
from tradeguard.model.errors import ConfigError
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.klines import Bar, KlineStore, bucket_start, next_start
from tradeguard.sandbox.motion import RandomWalk
from tradeguard.sandbox.replay import ReplaySource
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "candles"
ETH_BTC = DATA / "ETH_BTC-5m.feather"
D = Decimal


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_month_and_week_klines_open_on_calendar_boundaries() -> None:
    assert bucket_start(_ms("2024-02-17 13:45:00"), "1M") == _ms("2024-02-01 00:00:00")
    assert next_start(_ms("2024-12-01 00:00:00"), "1M") == _ms("2025-01-01 00:00:00")
    assert bucket_start(_ms("2024-02-17 13:45:00"), "1w") == _ms("2024-02-12 00:00:00")  # Monday
    assert bucket_start(_ms("2024-02-17 13:45:59"), "15m") == _ms("2024-02-17 13:45:00")


def test_klines_fold_trades_and_fill_quiet_buckets_at_the_last_close() -> None:
    store = KlineStore()
    t0 = _ms("2024-01-01 00:00:00")
    store.add_trade("X", t0 + 1_000, D("10"), D("1"), taker_buy=True)
    store.add_trade("X", t0 + 50_000, D("12"), D("2"), taker_buy=False)
    store.add_trade("X", t0 + 180_500, D("11"), D("1"), taker_buy=True)
    bars = store.klines("X", "1m", limit=10, now_ms=t0 + 200_000, start_ms=t0)
    assert [(b.open_ms - t0, b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
        (0, D("10"), D("12"), D("10"), D("12"), D("3")),
        (60_000, D("12"), D("12"), D("12"), D("12"), D("0")),
        (120_000, D("12"), D("12"), D("12"), D("12"), D("0")),
        (180_000, D("11"), D("11"), D("11"), D("11"), D("1")),
    ]
    assert bars[0].taker_buy_volume == D("1") and bars[0].trades == 2
    last_two = store.klines("X", "1m", limit=2, now_ms=t0 + 200_000)
    assert [b.open_ms - t0 for b in last_two] == [120_000, 180_000]
    assert store.klines("X", "1m", limit=5, now_ms=t0 - 1) == []


async def test_replay_lists_history_and_plays_bars_exactly_as_recorded() -> None:
    if not ETH_BTC.exists():
        pytest.skip(f"shared market data missing: {ETH_BTC}")
    recorded = load_candles(ETH_BTC, "ETH/BTC")
    config = SandboxConfig(replay=[f"{ETH_BTC}:ETH/BTC"], replay_history_bars=50)
    ex = SandboxExchange(config)
    replay = ex.replays[0]
    history = ex.klines.klines("ETHBTC", "5m", 50, replay.start_ms - 1)
    assert [(b.open, b.close, b.volume) for b in history] == [
        (c.open, c.close, c.volume) for c in recorded[:50]
    ]
    for k in range(3):
        for part in range(4):
            replay.play_step(k, part)
    played = ex.klines.klines("ETHBTC", "5m", 3, replay.bar_time(3), start_ms=replay.start_ms)
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in played] == [
        (c.open, c.high, c.low, c.close, c.volume) for c in recorded[50:53]
    ]
    bid, ask = ex.engine.best("ETHBTC")
    assert bid is not None and ask is not None and bid[0] <= recorded[52].close <= ask[0]


async def test_replay_fills_a_resting_user_order_when_the_price_reaches_it() -> None:
    if not ETH_BTC.exists():
        pytest.skip(f"shared market data missing: {ETH_BTC}")
    recorded = load_candles(ETH_BTC, "ETH/BTC")
    ex = SandboxExchange(SandboxConfig(replay=[str(ETH_BTC)], replay_history_bars=50))
    ex.add_account(ALICE_KEY, ALICE_SECRET, {"BTC": D("10")})
    replay = ex.replays[0]
    low = min(c.low for c in recorded[50:60])
    ex.engine.place(
        ex.account_id(ALICE_KEY), "ETHBTC", "BUY", "LIMIT", ex.now_ms(), qty=D("1"), price=low
    )
    for k in range(10):
        for part in range(4):
            replay.play_step(k, part)
    assert ex.balances(ALICE_KEY)["ETH"][0] == D("0.999")  # 1 ETH less the 0.1 % fee


def test_replay_argument_names_a_symbol_or_takes_it_from_the_file() -> None:
    assert ReplaySource.parse("x/ETH_BTC-5m.feather").symbol == "ETHBTC"
    src = ReplaySource.parse("x/BTC-PERP_1m.csv:BTCUSDT")
    assert (src.symbol, src.base, src.quote) == ("BTCUSDT", "BTC", "USDT")
    with pytest.raises(ConfigError, match="cannot split symbol 'FOO'"):
        ReplaySource.parse("x/ETH_BTC-5m.feather:FOO")


def test_random_walk_is_seeded_and_prints_a_trade_each_step() -> None:
    def walk(seed: int) -> list[Decimal]:
        ex = seeded_exchange()
        w = RandomWalk(ex, ["BTCUSDT"], 1000, D("0.05"), seed)
        prices = []
        for _ in range(5):
            w.step_once()
            prices.append(ex.engine.trades["BTCUSDT"][-1].price)
        assert len(ex.engine.trades["BTCUSDT"]) == 5
        return prices

    assert walk(7) == walk(7)
    assert walk(7) != walk(8)
    assert all(abs(p - 50000) < 1000 for p in walk(7))


def test_motion_settings_are_range_checked() -> None:
    with pytest.raises(ConfigError, match=r"sandbox.replay_speed=0 is out of range"):
        SandboxConfig(replay_speed=D(0))
    with pytest.raises(ConfigError, match=r"sandbox.walk_every_ms=5 is out of range"):
        SandboxConfig(walk_every_ms=5)
    with pytest.raises(ConfigError, match="does not exist; create it first"):
        SandboxConfig(request_log_path=Path("/no/such/dir/log.jsonl"))


async def test_request_log_masks_the_api_key_and_drops_the_signature(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    ex = seeded_exchange(SandboxConfig(request_log_path=log))
    async with ex, aiohttp.ClientSession() as s:
        url = f"{ex.rest_url}/account?timestamp=1&signature=deadbeef"
        async with s.get(url, headers={"X-MBX-APIKEY": ALICE_KEY}) as resp:
            assert resp.status == 400
        async with s.get(f"{ex.rest_url}/klines?symbol=BTCUSDT&interval=1m") as resp:
            assert resp.status == 200
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["path"], r["status"]) for r in rows] == [
        ("/api/v3/account", 400),
        ("/api/v3/klines", 200),
    ]
    assert rows[0]["api_key"] == "alic…-key"
    assert rows[0]["code"] == -1022
    assert rows[0]["params"] == {"timestamp": "1"}
    assert ALICE_KEY not in log.read_text() and "deadbeef" not in log.read_text()


def test_bar_merge_keeps_the_first_open_and_the_last_close() -> None:
    a = Bar(0, D("1"), D("2"), D("0.5"), D("1.5"), D("3"))
    a.merge(Bar(0, D("1.5"), D("3"), D("1"), D("2.5"), D("1")))
    assert (a.open, a.high, a.low, a.close, a.volume) == (
        D("1"),
        D("3"),
        D("0.5"),
        D("2.5"),
        D("4"),
    )


def _cli_config(argv: list[str]) -> SandboxConfig:
    import argparse

    from tradeguard.cli.sandbox import add_sandbox_parser, build_config

    parser = argparse.ArgumentParser()
    add_sandbox_parser(parser.add_subparsers())
    return build_config(parser.parse_args(["sandbox", "--port", "0", *argv]))


def test_cli_demo_markets_walk_and_replay_lists_only_the_recorded_market(tmp_path: Path) -> None:
    demo = _cli_config([])
    assert [m["symbol"] for m in demo.markets] == ["BTCUSDT", "ETHUSDT"]
    assert demo.walk_every_ms == 1000
    log = tmp_path / "r.jsonl"
    replayed = _cli_config(
        ["--replay", f"{ETH_BTC}:ETH/BTC", "--speed", "60", "--log-requests", str(log)]
    )
    assert (replayed.markets, replayed.walk_every_ms) == ([], 0)
    assert (replayed.replay, replayed.replay_speed) == ([f"{ETH_BTC}:ETH/BTC"], D(60))
    assert replayed.request_log_path == log
