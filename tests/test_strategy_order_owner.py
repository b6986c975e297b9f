"""Whose id a strategy's orders trade under: its own. An intent a strategy emits (or a leg it
sends through its execution gateway) under the id of another strategy of the node would count
in that strategy's positions, exits and P&L, so it is held to the rule the orders API holds an
outside caller to (`STRATEGY_ORDER_ROUTE`): a reduce_only close passes, an entry is denied."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from node_support import paper_config, write_slice
from test_api_support import PERMISSIVE
from tradeguard.config import Config
from tradeguard.model import OrderIntent, Side
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import Event, EventKind
from tradeguard.node import TradingNode, build_node


def _config(tmp_path: Path, data_dir: Path) -> Config:
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, risk=PERMISSIVE, tmp=tmp_path)
    ma = cfg.strategies[0]
    strategies = [ma.model_copy(update={"id": "alpha"}), ma.model_copy(update={"id": "beta"}),
                  ma.model_copy(update={"id": "gamma", "enabled": False})]  # fmt: skip
    return cfg.model_copy(update={"strategies": strategies})


async def _node(tmp_path: Path, data_dir: Path) -> tuple[TradingNode, list[Event]]:
    node = build_node(_config(tmp_path, data_dir))
    await node.start()
    await node.run()
    denied: list[Event] = []
    node.bus.subscribe(lambda e: denied.append(e) if e.kind == EventKind.RISK_DENIED else None)
    return node, denied


def _buy(sid: str, reduce_only: bool = False) -> OrderIntent:
    return OrderIntent(sid, "paper", "BTC/USDT", Side.BUY, D("0.001"), reduce_only=reduce_only)


@pytest.mark.parametrize("other", ["beta", "gamma"])  # running, and disabled
async def test_an_entry_a_strategy_emits_under_another_strategys_id_is_denied(
    tmp_path: Path, data_dir: Path, other: str
) -> None:
    node, denied = await _node(tmp_path, data_dir)
    try:
        alpha: Any = next(s for s in node.strategies if s.id == "alpha")
        before = node.stats.denied
        alpha.ctx.emit(_buy(other))
        assert node._ctx.queue == []
        assert node.stats.denied == before + 1
        [event] = denied
        assert (event.strategy_id, event.data["code"]) == (other, "STRATEGY_ORDER_ROUTE")
        reason = event.data["reason"]
        assert "strategy 'alpha'" in reason and f"strategy_id {other!r}" in reason, reason
        assert "reduce_only" in reason
        # its own id, a close of the other's, and an id no strategy has go on as before
        for ok in (_buy("alpha"), _buy(other, reduce_only=True), _buy("desk")):
            alpha.ctx.emit(ok)
        assert [i.strategy_id for i in node._ctx.queue] == ["alpha", other, "desk"]
        assert node.stats.denied == before + 1
    finally:
        node._ctx.queue.clear()
        node.close()


async def test_a_strategy_gets_no_gateway_under_another_strategys_id(
    tmp_path: Path, data_dir: Path
) -> None:
    node, _ = await _node(tmp_path, data_dir)
    try:
        alpha: Any = next(s for s in node.strategies if s.id == "alpha")
        with pytest.raises(
            ConfigError, match=r"strategies\[alpha\]: .*'beta'.*STRATEGY_ORDER_ROUTE"
        ):
            alpha.ctx.execution_gateway("beta", "paper")
        own = alpha.ctx.execution_gateway("alpha", "paper")
        out = await own.submit(_buy("beta"))
        assert (out.status, out.order, out.code) == ("denied", None, "STRATEGY_ORDER_ROUTE")
        assert "'alpha'" in out.reason and "'beta'" in out.reason
        assert node.storage.load_orders() == []
    finally:
        node.close()
