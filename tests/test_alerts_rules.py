"""Alert rules: which events raise an alert, and the text the operator reads."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from tradeguard.alerts import AlertsConfig, alert_for, daily_summary_event
from tradeguard.alerts.rules import Alert
from tradeguard.model.events import Event, EventKind
from tradeguard.secrets.redact import register_secret


def _alert(event: Event) -> Alert:
    """The alert `event` raises (it must raise one)."""
    alert = alert_for(event)
    assert alert is not None, event
    return alert


def test_position_closed_text_shows_pnl_in_quote_currency_and_percent() -> None:
    event = Event(
        EventKind.POSITION_CLOSED,
        1_700_000_000_000,
        {
            "side": "long",
            "amount": "0.01",
            "entry_price": "65000.00",
            "exit_price": "63760.00",
            "pnl": "-12.4",
            "pnl_pct": "-1.2345",
        },
        venue="binance",
        symbol="BTC/USDT",
        strategy_id="ma",
    )
    alert = _alert(event)
    assert alert.rule == "position_closed"
    assert alert.severity == "warning"
    assert alert.text.startswith("Position closed: BTC/USDT long, P&L -12.40 USDT (-1.2%)")
    assert "entry 65000 exit 63760" in alert.text
    assert "on binance" in alert.text
    assert "[strategy ma]" in alert.text


def test_winning_position_close_is_info_with_plus_sign() -> None:
    event = Event(
        EventKind.POSITION_CLOSED,
        1,
        {"side": "short", "pnl": "1234.5", "pnl_pct": "3.21"},
        symbol="ETH/USDC",
    )
    alert = _alert(event)
    assert alert.severity == "info"
    assert alert.text.startswith("Position closed: ETH/USDC short, P&L +1,234.50 USDC (+3.2%)")


def test_position_opened_text_names_size_entry_and_stops() -> None:
    event = Event(
        EventKind.POSITION_OPENED,
        1,
        {
            "side": "long",
            "quantity": "0.0100",
            "entry_price": "65000.50",
            "stop_loss": "64000",
            "take_profit": None,
        },
        venue="paper",
        symbol="BTC/USDT",
    )
    alert = _alert(event)
    assert alert.text == "Position opened: BTC/USDT long 0.01 @ 65000.5 on paper (stop 64000)"


@pytest.mark.parametrize("key", ["rule", "warning"])
def test_daily_loss_warning_reports_used_percent(key: str) -> None:
    event = Event(
        EventKind.RISK_WARNING,
        1,
        {key: "daily_loss", "used_pct": "80.5", "value": "402.5", "limit": "500"},
        severity="warning",
    )
    alert = _alert(event)
    assert alert.rule == "daily_loss_warning"
    assert alert.text.startswith("Daily loss at 80.5% of the limit: 402.50 of 500.00 USD")


def test_other_risk_warnings_raise_no_alert() -> None:
    assert alert_for(Event(EventKind.RISK_WARNING, 1, {"rule": "heat"})) is None


def test_breaker_tripped_names_breaker_value_and_limit() -> None:
    event = Event(
        EventKind.BREAKER_TRIPPED,
        1,
        {"breaker": "drawdown", "value": "12.50", "limit": "10"},
        severity="critical",
    )
    alert = _alert(event)
    assert alert.severity == "critical"
    assert alert.text == "Circuit breaker tripped: drawdown (value 12.5, limit 10)"


def test_venue_breaker_names_venue_and_error() -> None:
    event = Event(
        EventKind.BREAKER_TRIPPED,
        1,
        {"breaker": "venue_errors", "venue": "kraken", "error": "timeout"},
        severity="critical",
    )
    alert = _alert(event)
    assert alert.text == "Circuit breaker tripped: venue_errors on kraken: timeout"
    assert alert.dedupe_key == "breaker_tripped:venue_errors:kraken:"


def test_kill_switch_trigger_and_done_have_texts() -> None:
    trig = alert_for(
        Event(
            EventKind.KILL,
            1,
            {"stage": "triggered", "reason": "manual", "by": "alice", "flatten": True, "ts": 1},
        )
    )
    assert trig is not None
    assert trig.severity == "critical"
    assert trig.text == (
        "Kill switch triggered by alice: manual. Trading is HALTED; cancelling open orders "
        "and flatten positions"
    )
    done = alert_for(
        Event(
            EventKind.KILL,
            2,
            {
                "stage": "done",
                "cancelled": ["a", "b"],
                "closed_positions": ["BTC/USDT"],
                "failed": [{"id": "c", "reason": "venue down"}],
            },
        )
    )
    assert done is not None
    assert done.text == (
        "Kill switch done: 2 orders cancelled, 1 positions closed, 1 failures\n- c: venue down"
    )


def test_order_rejected_and_unknown_are_order_failed_alerts() -> None:
    data = {
        "client_order_id": "tg-1",
        "side": "buy",
        "amount": "0.5000",
        "price": "100.0",
        "reason": "insufficient balance",
    }
    rejected = alert_for(Event(EventKind.ORDER_REJECTED, 1, data, "paper", "ETH/USDT"))
    assert rejected is not None
    assert rejected.rule == "order_failed"
    assert rejected.text == (
        "Order rejected: ETH/USDT buy 0.5 @ 100 on paper (tg-1): insufficient balance"
    )
    unknown = alert_for(Event(EventKind.ORDER_UNKNOWN, 1, data, "paper", "ETH/USDT"))
    assert unknown is not None
    assert unknown.severity == "critical"
    assert unknown.text.startswith("Order state unknown: ETH/USDT buy 0.5 @ 100 on paper (tg-1)")
    assert "reconcile" in unknown.text


def test_venue_error_dedupe_key_is_per_venue() -> None:
    a = alert_for(Event(EventKind.VENUE_ERROR, 1, {"error": "502"}, "binance", "BTC/USDT"))
    b = alert_for(Event(EventKind.VENUE_ERROR, 2, {"error": "timeout"}, "binance", "ETH/USDT"))
    c = alert_for(Event(EventKind.VENUE_ERROR, 3, {"error": "502"}, "kraken"))
    assert a is not None and b is not None and c is not None
    assert a.text == "Venue error on binance (BTC/USDT): 502"
    assert a.dedupe_key == b.dedupe_key != c.dedupe_key


def test_daily_summary_text_from_helper_event() -> None:
    event = daily_summary_event(
        "2024-05-01",
        1,
        Decimal("-25.5"),
        realized_pnl=Decimal("-30"),
        unrealized_pnl=Decimal("4.5"),
        equity=Decimal("9974.5"),
        start_equity=Decimal("10000"),
        trades=5,
        wins=2,
        losses=3,
        currency="USDT",
    )
    assert event.kind == EventKind.DAILY_SUMMARY
    alert = _alert(event)
    assert alert.title == "Daily P&L summary 2024-05-01"
    assert alert.text == (
        "Daily P&L 2024-05-01: -25.50 USDT (-0.3%); realized -30.00, unrealized +4.50; "
        "equity 9,974.50 USDT; 5 trades (2 won, 3 lost)"
    )


@pytest.mark.parametrize(
    "kind", [EventKind.FILL, EventKind.ORDER_FILLED, EventKind.RISK_DENIED, EventKind.BALANCE]
)
def test_routine_events_raise_no_alert(kind: str) -> None:
    assert alert_for(Event(kind, 1, {})) is None


def test_secrets_in_event_data_never_reach_alert_text() -> None:
    register_secret("sk-live-0123456789abcdef")
    event = Event(
        EventKind.VENUE_ERROR,
        1,
        {"error": "401 for apiKey=sk-live-0123456789abcdef&signature=deadbeef"},
        "binance",
    )
    alert = _alert(event)
    assert "sk-live-0123456789abcdef" not in alert.text
    assert "deadbeef" not in alert.text
    assert "***" in alert.text


def test_config_defaults_turn_every_rule_on_but_the_opt_in_arb_completed() -> None:
    cfg = AlertsConfig()
    rules = cfg.rules.model_dump()
    assert rules.pop("arb_completed") is False
    assert all(rules.values())
    assert cfg.max_retries == 5
    assert cfg.min_interval_s["venue_error"] == 60


def test_config_backoff_is_exponential_with_cap() -> None:
    cfg = AlertsConfig(retry_backoff_s=1, retry_backoff_max_s=5)
    assert [cfg.backoff_s(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"min_interval_s": {"venue_errors": 5}}, "unknown rule 'venue_errors'"),
        ({"min_interval_s": {"venue_error": -1}}, "outside 0..86400"),
        ({"max_retries": -1}, "max_retries"),
        ({"typo": 1}, "typo"),
        ({"retry_backoff_s": 10, "retry_backoff_max_s": 5}, "retry_backoff_max_s"),
        ({"telegram": {"bot_token": "x" * 20}}, "chat_id"),
        ({"smtp": {"host": "127.0.0.1"}}, "from_addr"),
        ({"webhook": {"url": "ftp://x"}}, "http://"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        AlertsConfig.model_validate(data)


def _arb(kind: str, data: dict[str, object], severity: str = "info") -> Event:
    return Event(kind, 1_700_000_000_334, data, "paper", "ETH/USDT", "tri", severity)


def test_a_held_arbitrage_cycle_is_a_critical_alert_naming_what_is_held() -> None:
    event = _arb(
        EventKind.ARB_HELD,
        {
            "path": "USDT -> ETH -> A0009 -> USDT",
            "start_asset": "USDT",
            "held": {"ETH": "0.16103"},
            "reason": "leg 2 (A0009/ETH) denied: order rejected: more than max_orders_per_s=3",
        },
        "critical",
    )
    alert = _alert(event)
    assert (alert.rule, alert.severity) == ("arb_held", "critical")
    assert alert.title == "Arbitrage cycle held: 0.16103 ETH"
    assert alert.text.startswith(
        "Arbitrage cycle held: USDT -> ETH -> A0009 -> USDT stopped with 0.16103 ETH held "
        "on paper: leg 2 (A0009/ETH) denied"
    )
    assert "Sell it back to the start asset" in alert.text and "[strategy tri]" in alert.text


def test_an_unwound_arbitrage_cycle_is_a_warning_with_actual_against_expected() -> None:
    event = _arb(
        EventKind.ARB_EXECUTION,
        {
            "path": "USDT -> USDC -> A0023 -> BTC -> USDT",
            "start_asset": "USDT",
            "outcome": "unwound",
            "reason": "leg 3 not sent: best bid 0.97 is 3.0% worse than the scanned 1.0",
            "expected_profit_pct": "0.9412",
            "actual_profit": "-1.2034",
            "actual_profit_pct": "-0.12034",
        },
        "warning",
    )
    alert = _alert(event)
    assert (alert.rule, alert.severity) == ("arb_unwound", "warning")
    assert alert.text == (
        "Arbitrage cycle unwound: USDT -> USDC -> A0023 -> BTC -> USDT on paper; actual profit "
        "-1.2034 USDT (-0.120%) against expected +0.941%: leg 3 not sent: best bid 0.97 is 3.0% "
        "worse than the scanned 1.0 [strategy tri]"
    )


@pytest.mark.parametrize("outcome", ["held", "rejected", "failed"])
def test_other_arbitrage_outcomes_raise_no_cycle_alert(outcome: str) -> None:
    # `held` has its own critical `arb.held` alert; the rest put nothing at risk.
    assert alert_for(_arb(EventKind.ARB_EXECUTION, {"outcome": outcome, "path": "A -> B"})) is None


def test_a_completed_triangular_cycle_reports_actual_against_expected_profit() -> None:
    event = _arb(
        EventKind.ARB_EXECUTION,
        {
            "record_id": 7,
            "path": "USDT -> BTC -> ETH -> USDT",
            "start_asset": "USDT",
            "outcome": "completed",
            "expected_profit_pct": "0.3120",
            "actual_profit": "2.9871",
            "actual_profit_pct": "0.29871",
        },
        "info",
    )
    alert = _alert(event)
    assert (alert.rule, alert.severity) == ("arb_completed", "info")
    assert alert.title == "Arbitrage completed: USDT -> BTC -> ETH -> USDT"
    assert alert.text == (
        "Arbitrage cycle completed: USDT -> BTC -> ETH -> USDT on paper; actual profit 2.9871 "
        "USDT (+0.299%) against expected +0.312% [strategy tri]"
    )
    assert alert.dedupe_key == "arb_completed:tri:7"


def test_a_completed_cross_venue_pair_reports_actual_against_expected_profit() -> None:
    event = _arb(
        EventKind.ARB_EXECUTION,
        {
            "record_id": 3,
            "kind": "cross_venue",
            "path": "fed-cut d1",
            "outcome": "completed",
            "contracts": "40",
            "expected_edge": "0.05",
            "actual_edge": "0.04",
            "actual_profit": "1.6",
        },
        "info",
    )
    alert = alert_for(event)
    assert alert is not None and alert.rule == "arb_completed"
    assert alert.text == (
        "Arbitrage pair completed: fed-cut d1 on paper, 40 contracts; actual profit +1.60 USD "
        "(edge 0.04 per pair) against expected +2.00 USD (edge 0.05 per pair) [strategy tri]"
    )


def test_arbitrage_rules_can_be_switched_off_and_rate_limited() -> None:
    cfg = AlertsConfig(
        rules={"arb_unwound": False},  # type: ignore[arg-type]
        min_interval_s={"arb_unwound": 60.0},
    )
    assert cfg.rules.enabled("arb_held") and not cfg.rules.enabled("arb_unwound")


def test_money_found_leaving_with_no_transfer_declared_is_a_critical_alert_cut_to_size() -> None:
    hostile = "Z" * 5000  # an asset name as long as a venue cares to send
    why = (f"binance {hostile} -300 (-300 USDT) left the account with no transfer declared: "
           "counted as a loss")  # fmt: skip
    data = {"asset": hostile, "amount": "-300", "kind": "found", "moved": "0", "reason": why}
    event = Event("risk.cash_flow", 1_700_000_000_000, data, venue="binance", severity="critical")
    alert = _alert(event)
    assert (alert.rule, alert.severity) == ("cash_flow", "critical")
    assert "left the account with no transfer declared" in alert.text  # the name is cut
    assert alert.text.startswith("Cash flow: binance ZZZ") and len(alert.text) < 600, alert.text
    assert len(alert.title) < 200, alert.title


def test_the_critical_cash_flow_alert_names_the_whole_command_to_declare_a_withdrawal() -> None:
    command = "`tradeguard transfer --venue binance --asset USDT --amount -300 --reason ...`"
    why = ("binance USDT -300 (-300.00 USDT) left the account with no transfer declared: counted "
           "as a loss, as a theft or an unbooked fee would be; a known withdrawal is kept out of "
           f"the loss limits by declaring it: stop the node, then {command}")  # fmt: skip
    data = {"asset": "USDT", "amount": "-300", "kind": "found", "adjustment": 4,
            "value": "-300.00", "moved": "0", "reason": why}  # fmt: skip
    event = Event("risk.cash_flow", 1_700_000_000_000, data, venue="binance", severity="critical")
    alert = _alert(event)
    assert alert.severity == "critical"
    assert "no transfer declared" in alert.text and command in alert.text, alert.text


def test_a_cash_flow_waiting_for_a_price_alerts_each_day_apart_from_its_count() -> None:
    day = 86_400_000
    waiting = {"asset": "XYZ", "amount": "500", "kind": "declared", "adjustment": 7,
               "value": None, "moved": "0", "reason": "paper XYZ 500 has no price yet",
               "waiting_since": 1_700_000_000_000}  # fmt: skip
    counted = {**waiting, "value": "50", "moved": "50", "reason": "declared"}
    del counted["waiting_since"]
    keys = [
        _alert(Event("risk.cash_flow", ts, data, venue="paper", severity="warning")).dedupe_key
        for ts, data in ((1_700_000_000_000, waiting), (1_700_000_000_000 + day, waiting),
                         (1_700_000_000_000 + day + 1, counted))
    ]  # fmt: skip
    assert len(set(keys)) == 3, keys  # no day's reminder, nor the count, held back by another
