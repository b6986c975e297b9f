"""What a loss limit's trip does to an open position (`risk.on_loss_halt`): a drawdown halt
trips with a long open, then the price falls through the strategy's stop.

- `halt`: the stop is refused (HALTED) and the loss grows far past the limit;
- `reduce`: REDUCING; the stop goes, the loss ends near the stop's level, entries stay refused;
- `flatten`: the position is closed at once through the kill switch's flatten, booked to its
  own strategy, then HALTED; the stop finds nothing left to sell.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cli_support import run_cli
from loss_halt_support import AMOUNT, START_USDT, loss_halt_config
from node_support import node_for
from tradeguard.model.enums import OrderStatus, Side, TradingState
from tradeguard.model.events import EventKind
from tradeguard.model.order import Order

D = Decimal


async def _run(tmp_path, mode: str | None, db_url: str = ""):
    cfg = loss_halt_config(tmp_path, db_url or f"sqlite:///{tmp_path / 'tg.db'}", mode)
    node = node_for(cfg)
    events = []
    node.bus.subscribe(events.append)
    await node.start()
    await node.run()
    return node, events


def _sells(node) -> list:
    return [o for o in node.storage.load_orders()
            if o.side is Side.SELL and o.status is OrderStatus.FILLED]  # fmt: skip


def _closed(node, state: TradingState) -> tuple[Order, Decimal]:
    """Check the drawdown tripped into `state` and one filled sell closed the position; return
    that sell and the account's loss."""
    assert node.risk.state is state and node.risk.state_by == "breaker:drawdown"
    assert node.portfolio.position("paper", "BTC/USDT", "unlock").quantity == 0
    [sell] = _sells(node)
    return sell, START_USDT - node.portfolio.equity()


@pytest.mark.parametrize("mode", [None, "halt"])  # None: the default
async def test_a_drawdown_halt_refuses_the_stop_and_the_loss_grows_past_the_limit(tmp_path, mode):
    node, events = await _run(tmp_path, mode)
    try:
        assert node.risk.state is TradingState.HALTED
        assert node.risk.state_by == "breaker:drawdown"
        # the stop was asked for and refused, every candle the position was below it
        stops = [e for e in events if e.kind == EventKind.RISK_DENIED
                 and e.data["side"] == "sell"]  # fmt: skip
        assert stops and all(e.data["code"] == "TRADING_HALTED" for e in stops)
        held = node.portfolio.position("paper", "BTC/USDT", "unlock").quantity
        assert held == AMOUNT  # still open at 40,000
        loss = START_USDT - node.portfolio.equity()
        assert loss > D(90), loss  # 9%+ of the account: the 2% limit capped nothing
    finally:
        node.close()


async def test_reduce_lets_the_stop_close_and_refuses_new_exposure(tmp_path):
    node, events = await _run(tmp_path, "reduce")
    try:
        risk = node.risk
        sell, loss = _closed(node, TradingState.REDUCING)
        assert sell.signal["reason"] == "stop_loss"
        assert D(25) < loss < D(45), loss  # the stop's candle, not 40,000
        tripped = [e for e in events if e.kind == EventKind.BREAKER_TRIPPED]
        assert [e.data["breaker"] for e in tripped] == ["drawdown"]  # once, however far it fell
        assert tripped[0].data["on_loss_halt"] == "reduce"
        assert risk.last_loss_halt is not None
        assert risk.last_loss_halt["mode"] == "reduce"
        assert risk.last_loss_halt["state"] == "REDUCING"
        assert risk.snapshot()["loss_halt"]["mode"] == "reduce"
    finally:
        node.close()


async def test_flatten_closes_the_position_at_once_under_its_own_strategy_then_halts(tmp_path):
    node, _ = await _run(tmp_path, "flatten")
    try:
        risk = node.risk
        sell, loss = _closed(node, TradingState.HALTED)
        assert sell.signal["reason"] == "kill switch flatten" and sell.strategy_id == "unlock"
        assert D(15) < loss < D(35), loss  # closed after the drawdown candle, before the stop
        last = risk.last_kill
        assert last is not None and last["finished_ts"] > 0 and last["by"] == "breaker:drawdown"
        assert risk.last_loss_halt is not None and risk.last_loss_halt["mode"] == "flatten"
    finally:
        node.close()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
@pytest.mark.parametrize("mode", ["reduce", "flatten"])
async def test_the_mode_and_its_state_survive_a_restart(tmp_path, request, mode, db):
    url = request.getfixturevalue("pg_url") if db == "postgresql" else ""
    node, _ = await _run(tmp_path, mode, url)
    node.close()
    cfg = loss_halt_config(tmp_path, url or f"sqlite:///{tmp_path / 'tg.db'}", mode)
    again = node_for(cfg)
    await again.start()
    try:
        want = TradingState.REDUCING if mode == "reduce" else TradingState.HALTED
        assert again.risk.state is want
        assert again.risk.last_loss_halt is not None
        assert again.risk.last_loss_halt["mode"] == mode
        assert len(_sells(again)) == 1  # nothing sold again at the start
    finally:
        again.close()


def test_config_check_refuses_a_bad_mode_naming_it(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[risk]\non_loss_halt = "panic"\n', encoding="utf-8")
    done = run_cli(capsys, "config", "check", str(cfg))
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "on_loss_halt" in out and "panic" in out and "Traceback" not in out
    assert "halt" in out and "reduce" in out and "flatten" in out


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("halt", "HALTED: nothing is sent, exits included"),
        ("reduce", "REDUCING: no new exposure; exits, stops and reduce-only orders still go"),
        ("flatten", "HALTED after flattening: 1 position(s) closed"),
    ],
)
async def test_status_says_which_limit_tripped_in_which_mode_and_what_it_did(
    tmp_path, capsys, monkeypatch, mode, said
):
    node, _ = await _run(tmp_path, mode)
    node.close()
    monkeypatch.setenv("COLUMNS", "200")
    done = run_cli(capsys, "status", "--db", f"sqlite:///{tmp_path / 'tg.db'}")
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("Loss limit"))
    assert f"Loss limit drawdown tripped 2022-01-01 00:07:00 (risk.on_loss_halt = {mode}): " in line
    assert said in line, line


async def test_a_loss_limit_flatten_is_no_engaged_kill_switch_anywhere(tmp_path):
    """/state, /health and /metrics agree: the kill switch is the operator's; a loss limit's
    flatten runs through it but does not engage it."""
    from tradeguard.api.metrics import NodeMetrics
    from tradeguard.api.serialisers import state_payload
    from tradeguard.node.health import assess

    node, _ = await _run(tmp_path, "flatten")
    try:
        assert node.risk.state is TradingState.HALTED and node.risk.last_kill is not None
        assert state_payload(node)["kill_switch"]["engaged"] is False
        trading = assess(node, 0.0, verbose=True)["checks"]["trading"]
        assert trading["state"] == "HALTED" and trading["kill_switch"] is False
        text = NodeMetrics(node).render().decode()
        assert 'tradeguard_breaker_state{breaker="kill_switch"} 0.0' in text
    finally:
        node.close()


async def test_a_kill_resumed_long_ago_is_not_engaged_by_a_later_loss_halt(tmp_path):
    from tradeguard.api.metrics import NodeMetrics
    from tradeguard.api.serialisers import state_payload
    from tradeguard.node.health import assess

    cfg = loss_halt_config(tmp_path, f"sqlite:///{tmp_path / 'tg.db'}", "halt")
    node = node_for(cfg)
    await node.start()
    try:
        await node.kill("drill", by="operator")
        node.risk.resume("operator", "drill over")
        await node.run()  # the drawdown halts it
        assert node.risk.state is TradingState.HALTED
        assert node.risk.state_by == "breaker:drawdown"
        assert state_payload(node)["kill_switch"]["engaged"] is False
        assert assess(node, 0.0)["checks"]["trading"]["kill_switch"] is False
        text = NodeMetrics(node).render().decode()
        assert 'tradeguard_breaker_state{breaker="kill_switch"} 0.0' in text
    finally:
        node.close()
