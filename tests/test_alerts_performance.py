"""Performance alerts: win rate and Sharpe over the last trades, unusual volume on a symbol."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from conftest import aeventually
from test_alerts_manager import RecordingChannel
from tradeguard.alerts.config import AlertsConfig, PerformanceConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.alerts.performance import PerformanceWatch, rolling_sharpe
from tradeguard.bus import EventBus
from tradeguard.marketdata.state import MarketState
from tradeguard.model.events import Event, EventKind
from tradeguard.model.market import Candle

DAY = 86_400_000


def closed(pct: str, ts: int, symbol: str = "ETH/BTC") -> Event:
    return Event(EventKind.POSITION_CLOSED, ts, {"pnl": "0", "pnl_pct": pct}, "paper", symbol)


def candle(volume: str, ts: int, symbol: str = "ETH/BTC") -> Candle:
    one = Decimal(1)
    return Candle(symbol, ts, one, one, one, one, Decimal(volume), 300)


def test_defaults_come_from_the_plan():
    cfg = PerformanceConfig()
    assert cfg.win_rate_min_pct == 35.0 and cfg.win_rate_trades == 20
    assert cfg.sharpe_min == 1.0
    with pytest.raises(ValidationError, match="volume_factor"):
        PerformanceConfig(volume_factor=1)


def test_win_rate_below_threshold_over_the_last_n_trades_alerts_once_per_crossing():
    watch = PerformanceWatch(PerformanceConfig(win_rate_trades=10, sharpe_min=-100))
    alerts = []
    for i, pct in enumerate(["1", "-1", "-1", "1", "-1", "-1", "1", "-1", "-1"]):
        alerts += watch.on_event(closed(pct, i * DAY))
    assert alerts == []  # fewer than 10 trades yet
    (alert,) = watch.on_event(closed("-1", 9 * DAY))  # 3 of 10 won: 30 %
    assert alert.rule == "win_rate_low" and alert.severity == "warning"
    assert "Win rate 30.0% over the last 10 closed trades (3 won)" in alert.text
    assert "win_rate_min_pct = 35.0%" in alert.text
    assert watch.on_event(closed("-1", 10 * DAY)) == []  # still low: no repeat
    for i in range(11, 16):
        assert watch.on_event(closed("2", i * DAY)) == []  # recovers above 35 %
    for i in range(16, 26):
        alerts = watch.on_event(closed("-1", i * DAY))
        if alerts:
            break
    assert [a.rule for a in alerts] == ["win_rate_low"]  # a new crossing alerts again


def test_win_rate_at_the_threshold_does_not_alert():
    watch = PerformanceWatch(PerformanceConfig(win_rate_trades=20, sharpe_min=-100))
    pcts = ["1"] * 7 + ["-1"] * 13  # 35 %
    out = [a for i, p in enumerate(pcts) for a in watch.on_event(closed(p, i * DAY))]
    assert out == []


def test_rolling_sharpe_is_annualised_over_the_trades_span():
    returns = [1.0, -1.0, 2.0, 0.0]
    mean, sd = 0.5, (sum((r - 0.5) ** 2 for r in returns) / 3) ** 0.5
    assert rolling_sharpe(returns, 3 * DAY) == pytest.approx(mean / sd * (365) ** 0.5)
    assert rolling_sharpe([1.0, 1.0], DAY) is None  # no spread
    assert rolling_sharpe([1.0], DAY) is None


def test_sharpe_falling_below_the_threshold_alerts():
    cfg = PerformanceConfig(sharpe_trades=5, sharpe_min=1.0, win_rate_min_pct=0)
    watch = PerformanceWatch(cfg)
    out = []
    for i, pct in enumerate(["2", "1", "3", "2", "1"]):
        out += watch.on_event(closed(pct, i * DAY))
    assert out == []  # steady gains: a high Sharpe
    out = watch.on_event(closed("-10", 5 * DAY))
    assert [a.rule for a in out] == ["sharpe_low"]
    assert "below alerts.performance.sharpe_min = 1.0" in out[0].text


def test_unusual_volume_alerts_on_a_traded_symbol_only():
    watch = PerformanceWatch(PerformanceConfig(volume_window=10, volume_factor=3))
    for i in range(10):
        assert watch.on_candle(candle("100", i * 300_000)) is None
    assert watch.on_candle(candle("500", 10 * 300_000)) is None  # not traded yet
    watch.on_event(Event(EventKind.FILL, 1, {}, "paper", "ETH/BTC"))
    assert watch.on_candle(candle("300", 11 * 300_000)) is None  # not above 3 x the mean
    alert = watch.on_candle(candle("2000", 12 * 300_000))
    assert alert is not None and alert.rule == "unusual_volume"
    assert alert.dedupe_key == "unusual_volume:ETH/BTC"
    assert "Unusual volume on ETH/BTC: 2,000.00 in one candle" in alert.text


def test_the_volume_window_must_fill_before_any_alert():
    watch = PerformanceWatch(PerformanceConfig(volume_window=10, volume_factor=3))
    watch.on_event(Event(EventKind.POSITION_OPENED, 1, {}, "paper", "ETH/BTC"))
    watch.on_candle(candle("1", 0))
    assert watch.on_candle(candle("1000", 300_000)) is None


async def test_manager_delivers_performance_alerts_from_the_bus_and_candles():
    cfg = AlertsConfig(performance=PerformanceConfig(win_rate_trades=2, volume_window=10))
    channel = RecordingChannel()
    manager = AlertManager(cfg, [channel])
    bus, market = EventBus(), MarketState()
    bus.subscribe(manager.on_event)
    market.candle_listeners.append(manager.on_candle)
    await manager.start()
    bus.publish(Event(EventKind.FILL, 1, {}, "paper", "ETH/BTC"))
    bus.publish(closed("-1", DAY))
    bus.publish(closed("-2", 2 * DAY))
    for i in range(10):
        market.on_candle(candle("10", i * 300_000))
    market.on_candle(candle("1000", 10 * 300_000))
    await aeventually(lambda: len(channel.sent) == 4)
    await manager.stop()
    rules = [a.rule for a in channel.sent]
    assert rules == ["position_closed", "position_closed", "win_rate_low", "unusual_volume"]


def test_a_switched_off_rule_is_not_queued():
    cfg = AlertsConfig(
        rules={"unusual_volume": False},
        performance=PerformanceConfig(volume_window=10),
    )
    manager = AlertManager(cfg, [RecordingChannel()])
    manager.on_event(Event(EventKind.FILL, 1, {}, "paper", "ETH/BTC"))
    for i in range(10):
        manager.on_candle(candle("10", i * 300_000))
    manager.on_candle(candle("1000", 10 * 300_000))
    assert manager.pending() == 0


def test_a_watch_restored_from_its_saved_state_alerts_as_one_never_stopped():
    """The run state carries the watch across a restart: trades, crossings, volume windows."""
    cfg = PerformanceConfig(win_rate_trades=4, sharpe_min=-100, volume_window=10, volume_factor=3)
    events = [closed(p, i * DAY) for i, p in enumerate(["1", "-1", "-1", "-1", "-1", "2", "-1"])]
    candles = [candle(v, i * 300_000) for i, v in enumerate(["100.1"] * 12 + ["900", "50"])]

    def feed(watch: PerformanceWatch, evs: list[Event], cds: list[Candle]) -> list[str]:
        out = [a.rule for e in evs for a in watch.on_event(e)]
        return out + [a.rule for c in cds if (a := watch.on_candle(c)) is not None]

    whole = PerformanceWatch(cfg)
    whole.on_event(Event(EventKind.FILL, 1, {}, "paper", "ETH/BTC"))
    expected = feed(whole, events, candles)
    assert expected == ["win_rate_low", "unusual_volume"]

    first = PerformanceWatch(cfg)
    first.on_event(Event(EventKind.FILL, 1, {}, "paper", "ETH/BTC"))
    before = feed(first, events[:4], candles[:11])  # the crossing has happened by here
    resumed = PerformanceWatch(cfg)
    resumed.load_state(json.loads(json.dumps(first.to_state())))
    assert resumed.to_state() == first.to_state()
    assert before + feed(resumed, events[4:], candles[11:]) == expected
    assert feed(PerformanceWatch(cfg), events[4:], candles[11:]) != expected[len(before) :]
