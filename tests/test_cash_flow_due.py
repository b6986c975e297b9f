"""The equity record asks whether outside money is due only when the storage booked an
adjustment since the last count or one waits for a price: a run that never books one (a
backtest) pays nothing for the count on each equity figure, and one booked is still counted."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.config import load_config
from tradeguard.node import TradingNode, equity_record
from tradeguard.node.cash_flows import apply_cash_flows


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
