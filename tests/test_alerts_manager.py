"""AlertManager: non-blocking enqueue, retries with backoff, give-up, rate limits, bus wiring."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest

from conftest import aeventually
from test_alerts_channels import TOKEN, HttpReceiver, SmtpServer, serve_http, serve_smtp
from tradeguard.alerts import (
    Alert,
    AlertManager,
    AlertsConfig,
    ChannelError,
    EmailChannel,
    TelegramChannel,
    WebhookChannel,
)
from tradeguard.bus import EventBus
from tradeguard.model.events import Event, EventKind


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with serve_http() as rec:
        yield rec


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with serve_smtp() as server:
        yield server


class FakeSleep:
    """Record backoff waits and yield to the loop instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingChannel:
    """A channel that records alerts and fails a scripted number of times first."""

    def __init__(self, name: str = "stub", fail_times: int = 0) -> None:
        self.name = name
        self.fail_times = fail_times
        self.attempts = 0
        self.sent: list[Alert] = []
        self.closed = False

    async def send(self, alert: Alert) -> None:
        self.attempts += 1
        if self.attempts <= self.fail_times:
            raise ChannelError(self.name, f"scripted failure {self.attempts}")
        self.sent.append(alert)

    async def aclose(self) -> None:
        self.closed = True


def venue_error(venue: str = "binance", ts: int = 1) -> Event:
    return Event(EventKind.VENUE_ERROR, ts, {"error": "HTTP 502"}, venue, "BTC/USDT")


def closed(ts: int) -> Event:
    return Event(
        EventKind.POSITION_CLOSED, ts, {"side": "long", "pnl": "-12.4", "pnl_pct": "-1.2"},
        "paper", "BTC/USDT",
    )  # fmt: skip


async def test_webhook_500_twice_then_ok_is_delivered_once_after_two_retries(
    receiver: HttpReceiver,
) -> None:
    receiver.statuses = [500, 500]
    sleep = FakeSleep()
    cfg = AlertsConfig(retry_backoff_s=2, retry_backoff_max_s=30)
    manager = AlertManager(cfg, [WebhookChannel(f"{receiver.base}/hook", "slack")], sleep=sleep)
    await manager.start()
    manager.on_event(closed(1))
    await aeventually(lambda: manager.counters["sent"] == 1)
    await manager.stop()
    assert len(receiver.requests) == 3
    assert manager.counters["retried"] == 2
    assert manager.counters["failed"] == 0
    assert sleep.waits == [2, 4]


async def test_gives_up_after_max_retries_and_counts_failed(receiver: HttpReceiver) -> None:
    receiver.statuses = [503] * 10
    sleep = FakeSleep()
    cfg = AlertsConfig(max_retries=3, retry_backoff_s=1, retry_backoff_max_s=3)
    manager = AlertManager(cfg, [WebhookChannel(f"{receiver.base}/hook", "generic")], sleep=sleep)
    await manager.start()
    manager.on_event(closed(1))
    await aeventually(lambda: manager.counters["failed"] == 1)
    await manager.stop()
    assert len(receiver.requests) == 4
    assert manager.counters["retried"] == 3
    assert manager.counters["sent"] == 0
    assert sleep.waits == [1, 2, 3]


async def test_failing_channel_does_not_hold_back_the_others() -> None:
    bad = RecordingChannel("bad", fail_times=100)
    good = RecordingChannel("good")
    manager = AlertManager(AlertsConfig(max_retries=1), [bad, good], sleep=FakeSleep())
    await manager.start()
    for ts in range(3):
        manager.on_event(closed(ts))
    await aeventually(lambda: manager.counters["failed"] == 3)
    await manager.stop()
    assert len(good.sent) == 3
    assert manager.channel_counters["good"]["sent"] == 3
    assert manager.channel_counters["bad"]["failed"] == 3


def test_on_event_without_workers_returns_at_once_and_counts_drops() -> None:
    ch = RecordingChannel()
    quiet = {"win_rate_low": False}  # 5000 losses would also raise a win-rate alert
    manager = AlertManager(AlertsConfig(queue_size=100, rules=quiet), [ch])
    started = time.perf_counter()
    for ts in range(5000):
        manager.on_event(closed(ts))
    elapsed = time.perf_counter() - started
    assert manager.pending() == 100
    assert manager.counters["dropped"] == 4900
    assert manager.counters["enqueued"] == 5000
    assert elapsed < 5  # loose bound: it must not wait for a consumer
    assert ch.attempts == 0


async def test_full_queue_keeps_the_newest_alerts() -> None:
    ch = RecordingChannel()
    manager = AlertManager(AlertsConfig(queue_size=3), [ch])
    for ts in range(10):
        manager.on_event(closed(ts))
    await manager.start()
    await manager.stop()
    assert [a.ts for a in ch.sent] == [7, 8, 9]


async def test_venue_errors_are_rate_limited_per_venue() -> None:
    clock = FakeClock()
    ch = RecordingChannel()
    manager = AlertManager(AlertsConfig(min_interval_s={"venue_error": 60}), [ch], monotonic=clock)
    await manager.start()
    for ts in range(50):
        manager.on_event(venue_error("binance", ts))
    manager.on_event(venue_error("kraken"))
    clock.now += 59
    manager.on_event(venue_error("binance"))
    clock.now += 2
    manager.on_event(venue_error("binance"))
    await manager.stop()
    assert [a.text.split(" (")[0] for a in ch.sent] == [
        "Venue error on binance",
        "Venue error on kraken",
        "Venue error on binance",
    ]
    assert manager.counters["suppressed"] == 50


async def test_rules_without_interval_are_never_suppressed() -> None:
    ch = RecordingChannel()
    manager = AlertManager(AlertsConfig(min_interval_s={}), [ch])
    await manager.start()
    for _ in range(5):
        manager.on_event(venue_error())
    await manager.stop()
    assert len(ch.sent) == 5


async def test_disabled_rule_and_disabled_alerts_send_nothing() -> None:
    ch = RecordingChannel()
    cfg = AlertsConfig.model_validate({"rules": {"position_closed": False}})
    manager = AlertManager(cfg, [ch])
    manager.on_event(closed(1))
    manager.on_event(Event(EventKind.FILL, 1, {}))
    off = AlertManager(AlertsConfig(enabled=False), [ch])
    off.on_event(venue_error())
    assert manager.pending() == 0
    assert off.pending() == 0


def test_on_event_never_raises_on_malformed_data() -> None:
    manager = AlertManager(AlertsConfig(), [RecordingChannel()])
    bad = Event(EventKind.KILL, 1, {"stage": "done", "cancelled": 5})  # len(5) fails
    manager.on_event(bad)
    assert manager.counters["errors"] == 1


async def test_bus_subscription_delivers_engine_events() -> None:
    bus = EventBus()
    ch = RecordingChannel()
    manager = AlertManager(AlertsConfig(), [ch])
    bus.subscribe(manager.on_event)
    await manager.start()
    bus.publish(Event(EventKind.ORDER_FILLED, 1, {}))
    bus.publish(Event(EventKind.KILL, 2, {"stage": "triggered", "reason": "manual", "by": "ops"}))
    await aeventually(lambda: len(ch.sent) == 1)
    await manager.stop()
    assert ch.sent[0].title == "Kill switch triggered"
    assert ch.closed


async def test_events_from_another_thread_are_handed_to_the_loop() -> None:
    ch = RecordingChannel()
    manager = AlertManager(AlertsConfig(), [ch])
    await manager.start()
    worker = threading.Thread(target=manager.on_event, args=(closed(7),))
    worker.start()
    worker.join()
    await aeventually(lambda: len(ch.sent) == 1)
    await manager.stop()
    assert ch.sent[0].ts == 7


async def test_stop_drains_queued_alerts_before_closing() -> None:
    ch = RecordingChannel()
    manager = AlertManager(AlertsConfig(rules={"win_rate_low": False}), [ch])
    for ts in range(20):
        manager.on_event(closed(ts))
    await manager.start()
    await manager.stop(timeout_s=5)
    assert len(ch.sent) == 20
    assert manager.pending() == 0
    assert not manager.running


async def test_stop_gives_up_after_timeout_and_counts_the_rest_dropped() -> None:
    class Stuck(RecordingChannel):
        async def send(self, alert: Alert) -> None:
            await asyncio.Event().wait()

    manager = AlertManager(AlertsConfig(), [Stuck()])
    for ts in range(3):
        manager.on_event(closed(ts))
    await manager.start()
    await manager.stop(timeout_s=0.05)
    assert manager.counters["dropped"] == 2  # the one in flight is cancelled, two never left
    assert manager.counters["sent"] == 0


async def test_daily_summary_helper_queues_the_summary(receiver: HttpReceiver) -> None:
    manager = AlertManager(AlertsConfig(), [WebhookChannel(f"{receiver.base}/h", "discord")])
    await manager.start()
    alert = manager.daily_summary(
        "2024-05-01", 1, Decimal("42.1"), equity=Decimal("10042.1"), trades=3, wins=3, losses=0
    )
    await aeventually(lambda: manager.counters["sent"] == 1)
    await manager.stop()
    assert alert is not None
    assert receiver.bodies == [
        {
            "content": "**Daily P&L summary 2024-05-01**\nDaily P&L 2024-05-01: +42.10 USD; "
            "equity 10,042.10 USD; 3 trades (3 won, 0 lost)"
        }
    ]


async def test_all_three_channels_receive_one_alert(
    receiver: HttpReceiver, smtp_server: SmtpServer
) -> None:
    channels = [
        WebhookChannel(f"{receiver.base}/hook", "slack"),
        TelegramChannel(TOKEN, "99", api_base=receiver.base),
        EmailChannel("127.0.0.1", smtp_server.port, "bot@t.test", ["ops@t.test"], starttls=False),
    ]
    manager = AlertManager(AlertsConfig(), channels, sleep=FakeSleep())
    await manager.start()
    manager.on_event(
        Event(
            EventKind.RISK_WARNING, 1,
            {"rule": "daily_loss", "used_pct": "80.5", "value": "402.5", "limit": "500"},
        )
    )  # fmt: skip
    await aeventually(lambda: manager.counters["sent"] == 3)
    await manager.stop()
    paths = sorted(p for p, _ in receiver.requests)
    assert paths == [f"/bot{TOKEN}/sendMessage", "/hook"]
    [(_, msg)] = smtp_server.inbox.messages
    assert msg["Subject"] == "[tradeguard] WARNING: Daily loss warning"


@pytest.mark.parametrize(
    ("mode", "mark"),
    [("live", "[LIVE] "), ("sandbox", "[SANDBOX] "), ("paper", "[PAPER] "), ("backtest", "")],
)
async def test_every_title_says_the_mode_and_a_backtest_none(mode: str, mark: str) -> None:
    ch = RecordingChannel()
    manager = AlertManager(AlertsConfig(), [ch], mode=mode)
    await manager.start()
    manager.on_event(venue_error("binance"))
    summary = manager.daily_summary("2026-12-04", 1, Decimal("12.5"))
    manager.enqueue(Alert("kill_switch", "Kill switch done", "text", "critical", "k"))
    await manager.stop()
    assert summary is not None and summary.title == f"{mark}Daily P&L summary 2026-12-04"
    assert [a.title for a in ch.sent] == [
        f"{mark}Venue error: binance",
        f"{mark}Daily P&L summary 2026-12-04",
        f"{mark}Kill switch done",
    ]


async def test_arb_completed_is_opt_in_and_sends_once_per_execution() -> None:
    def completed(record_id: int) -> Event:
        data = {"record_id": record_id, "path": "A -> B -> A", "outcome": "completed",
                "start_asset": "USDT", "actual_profit": "1", "expected_profit_pct": "0.1",
                "actual_profit_pct": "0.1"}  # fmt: skip
        return Event(EventKind.ARB_EXECUTION, record_id, data, "paper", "B/A", "tri")

    default, opted = RecordingChannel(), RecordingChannel()
    off = AlertManager(AlertsConfig(), [default], mode="live")
    on = AlertManager(AlertsConfig.model_validate({"rules": {"arb_completed": True}}), [opted])
    for manager in (off, on):
        await manager.start()
        for record_id in (1, 2):
            manager.on_event(completed(record_id))
        await manager.stop()
    assert default.sent == []
    assert [a.dedupe_key for a in opted.sent] == ["arb_completed:tri:1", "arb_completed:tri:2"]


async def test_cash_flow_alerts_rate_limit_per_flow_never_hiding_a_decrease() -> None:
    """`alerts.min_interval_s` takes the cash_flow rule; a limit on it holds back a repeat of
    the same flow, never the critical decrease counted beside a deposit in the same second."""
    clock = FakeClock()
    ch = RecordingChannel()
    cfg = AlertsConfig(min_interval_s={"cash_flow": 60})
    manager = AlertManager(cfg, [ch], monotonic=clock)
    await manager.start()
    found = "a deposit found by the balance sync"
    deposit = {"asset": "USDT", "amount": "250", "kind": "found", "adjustment": 7,
               "reason": f"binance USDT 250 (250 USDT), {found}"}  # fmt: skip
    gone = "left the account with no transfer declared"
    theft = {"asset": "BTC", "amount": "-1", "kind": "found", "adjustment": 8,
             "reason": f"binance BTC -1 (50000 USDT) {gone}"}  # fmt: skip
    manager.on_event(Event("risk.cash_flow", 1_000, deposit, venue="binance"))
    manager.on_event(Event("risk.cash_flow", 1_000, theft, venue="binance", severity="critical"))
    manager.on_event(Event("risk.cash_flow", 1_000, deposit, venue="binance"))  # the same again
    await manager.stop()
    assert [(a.severity, a.title) for a in ch.sent] == [
        ("warning", "Cash flow on binance: USDT"),
        ("critical", "Cash flow on binance: BTC"),
    ]
    assert manager.counters["suppressed"] == 1
