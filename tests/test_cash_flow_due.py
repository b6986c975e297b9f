"""The equity record asks whether outside money is due only when the storage booked an
adjustment since the last count or one waits for a price: a run that never books one (a
backtest) pays nothing for the count on each equity figure, and one booked is still counted."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.config import load_config
from tradeguard.model.events import Event
from tradeguard.node import TradingNode, equity_record
from tradeguard.node.cash_flows import CASH_FLOW_EVENT, apply_cash_flows


def test_the_count_of_outside_money_is_asked_for_only_once_one_was_booked(
    tmp_path, data_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    node = TradingNode(load_config(write_paper_toml(tmp_path, data, strategies="")))
    asked: list[int] = []
    due = equity_record.flows_due

    def counted_due(n: TradingNode) -> bool:
        asked.append(1)
        return due(n)

    monkeypatch.setattr(equity_record, "flows_due", counted_due)
    try:
        apply_cash_flows(node)  # as the node's start does: the count's floor is set
        for day in range(3):
            node._observe_equity(1_700_000_000_000 + day * 86_400_000)
        assert asked == []  # nothing booked: no question asked per equity figure
        with node.storage.transaction():
            node.storage.record_balance_adjustment(
                "paper", "USDT", Decimal(10_000), Decimal(10_500),
                "deposit recorded by tradeguard transfer", node.clock.now_ms(),
            )  # fmt: skip
        node._observe_equity(1_700_000_000_000 + 2 * 86_400_000 + 60_000)  # the same day
        assert asked == [1]
        assert node.storage.load_uncounted_adjustments() == []  # counted before the figure
        node._observe_equity(1_700_000_000_000 + 2 * 86_400_000 + 120_000)
        assert asked == [1]  # counted: nothing due any more
    finally:
        node.close()


def test_a_deposit_with_no_price_waits_and_alerts_once_per_day(tmp_path, data_dir) -> None:
    # was: one warning log at the first figure, then nothing, however many days it waited
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    node = TradingNode(load_config(write_paper_toml(tmp_path, data, strategies="")))
    events: list[Event] = []
    node.bus.subscribe(events.append)
    start = 1_700_000_000_000
    try:
        apply_cash_flows(node)
        with node.storage.transaction():
            node.storage.record_balance_adjustment(
                "paper", "XYZ", Decimal(0), Decimal(500),
                "deposit recorded by tradeguard transfer", start,
            )  # fmt: skip
        for day in range(3):
            for minute in range(3):  # several figures a day: one alert a day
                ts = start + day * 86_400_000 + minute * 60_000
                node.clock.advance_to(ts)
                node._observe_equity(ts)
        waits = [e for e in events if e.kind == CASH_FLOW_EVENT]
        assert [e.ts // 86_400_000 for e in waits] == [start // 86_400_000 + d for d in range(3)]
        assert all("XYZ" in e.data["reason"] and e.data["value"] is None for e in waits)
        assert node.storage.load_uncounted_adjustments() != []  # still waiting, not zero
        assert node.risk.day_start_equity == node.portfolio.equity()  # moved by nothing
    finally:
        node.close()
