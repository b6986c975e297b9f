"""The kill switch cancels every open order on the paper venue and survives a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from node_support import node_for, paper_config, write_slice
from tradeguard.model import OrderIntent, OrderStatus, OrderType, Side, TradingState

PERMISSIVE = {
    "max_orders_per_s": "50",
    "max_trades_per_day": 1000,
    "max_open_positions": 50,
    "max_order_notional_usd": "100",
}


async def _node_with_resting_orders(tmp_path: Path, data_dir: Path, n: int):
    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    cfg = paper_config(
        f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False, risk=PERMISSIVE, tmp=tmp_path
    )
    node = node_for(cfg)
    await node.start()
    await node.run()
    close = node.market.mid("BTC/USDT")
    assert close is not None
    cids = []
    for i in range(n):
        price = (close * Decimal("0.995") - i).quantize(Decimal("0.01"))
        result = await node.submit(
            OrderIntent(
                "manual", "paper", "BTC/USDT", Side.BUY, Decimal("0.0004"), OrderType.LIMIT, price
            )
        )
        assert result.ok, result.reason
        cids.append(result.order.client_order_id)
    return node, cfg, cids


async def test_kill_cancels_every_open_order_and_node_comes_back_halted(tmp_path, data_dir):
    node, cfg, cids = await _node_with_resting_orders(tmp_path, data_dir, 40)
    paper = node.venues["paper"]
    assert len(await paper.fetch_open_orders()) == 40
    report = await node.kill(reason="test emergency", by="pytest")
    assert sorted(report["cancelled"]) == sorted(cids)
    assert report["failed"] == []
    assert await paper.fetch_open_orders() == []
    assert node.risk.state is TradingState.HALTED
    assert all(node.orders.orders[c].status is OrderStatus.CANCELLED for c in cids)
    # locked quote is released on the venue
    usdt = {b.asset: b for b in await paper.fetch_balances()}["USDT"]
    assert usdt.locked == 0
    node.close()

    restarted = node_for(cfg)
    await restarted.start()
    assert restarted.risk.state is TradingState.HALTED
    assert restarted.storage.load_orders(open_only=True) == []
    denied = await restarted.submit(
        OrderIntent("manual", "paper", "BTC/USDT", Side.BUY, Decimal("0.0004"), OrderType.MARKET)
    )
    assert denied.status == "denied"
    assert "HALTED" in denied.reason
    restarted.close()


async def test_kill_with_flatten_closes_the_position(tmp_path, data_dir):
    node, _, _ = await _node_with_resting_orders(tmp_path, data_dir, 0)
    buy = await node.submit(
        OrderIntent("manual", "paper", "BTC/USDT", Side.BUY, Decimal("0.001"), OrderType.MARKET)
    )
    assert buy.ok
    # the paper venue fills market orders on the next candle: feed one
    last = node.market.candles["BTC/USDT"]
    from dataclasses import replace

    nxt = replace(last, ts=last.ts + 60_000)
    node.clock.advance_to(nxt.close_ts)
    node.market.on_candle(nxt)
    node.venues["paper"].on_candle(nxt)
    pos = node.portfolio.position("paper", "BTC/USDT", "manual")
    assert pos.quantity == Decimal("0.001")
    report = await node.kill(reason="flatten test", by="pytest", flatten=True)
    assert report["closed_positions"] == ["paper:BTC/USDT"]
    nxt2 = replace(nxt, ts=nxt.ts + 60_000)
    node.clock.advance_to(nxt2.close_ts)
    node.market.on_candle(nxt2)
    node.venues["paper"].on_candle(nxt2)
    assert pos.quantity == 0
    node.close()


async def test_sentinel_file_triggers_the_kill_switch_during_a_run(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 300)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, risk=PERMISSIVE, tmp=tmp_path)
    cfg.node.checkpoint_every = 50
    Path(cfg.node.kill_sentinel).write_text("stop\n")
    node = node_for(cfg)
    await node.start()
    await node.run()
    assert node.risk.state is TradingState.HALTED
    assert not Path(cfg.node.kill_sentinel).exists()
    stages = [e.data["stage"] for e in node.storage.load_events(kind_prefix="kill")]
    assert sorted(stages) == ["done", "triggered"]
    node.close()


async def test_kill_from_another_folder_reaches_the_sentinel_the_running_node_watches(
    tmp_path, data_dir, monkeypatch, capsys
):
    from node_support import write_paper_toml
    from tradeguard.cli.main import main
    from tradeguard.config import load_config

    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    cfg_path = write_paper_toml(tmp_path, data)
    text = cfg_path.read_text().replace(f'"{tmp_path / "tg.kill"}"', '"tg.kill"')
    cfg_path.write_text(text)
    node_dir, elsewhere = tmp_path / "node", tmp_path / "elsewhere"
    node_dir.mkdir(), elsewhere.mkdir()
    monkeypatch.chdir(node_dir)  # the node resolves its relative sentinel here
    node = node_for(load_config(cfg_path))
    await node.start()
    try:
        monkeypatch.chdir(elsewhere)
        assert main(["kill", "--config", str(cfg_path), "--reason", "drill"]) == 0
        assert str(node_dir / "tg.kill") in capsys.readouterr().out.replace("\n", "")
        assert not (elsewhere / "tg.kill").exists()
        await node.poll_kill_sentinel()
        assert node.risk.state is TradingState.HALTED
    finally:
        await node.stop()
        node.close()


async def test_resume_refuses_while_a_node_writes_the_database_and_changes_nothing(
    tmp_path, data_dir, capsys
):
    # The running node keeps its own HALTED state and would write it back over the resume.
    from tradeguard.cli.main import main

    node = (await _node_with_resting_orders(tmp_path, data_dir, 0))[0]
    await node.kill(reason="drill", by="test")
    url = node.config.node.database_url
    try:
        assert main(["resume", "--db", url, "--reason", "x", "--yes"]) == 1
        err = capsys.readouterr().err
        assert "pid" in err and "/api/v1/resume" in err
        assert node.risk.state is TradingState.HALTED
        assert node.storage.load_events(kind_prefix="resume") == []
    finally:
        await node.stop()
        node.close()


async def test_kill_flatten_sells_only_what_a_close_already_working_leaves(tmp_path, data_dir):
    from dataclasses import replace

    node, _, _ = await _node_with_resting_orders(tmp_path, data_dir, 0)
    paper = node.venues["paper"]
    buy = await node.submit(
        OrderIntent("manual", "paper", "BTC/USDT", Side.BUY, Decimal("0.001"), OrderType.MARKET)
    )
    assert buy.ok
    last = node.market.candles["BTC/USDT"]
    nxt = replace(last, ts=last.ts + 60_000)
    node.clock.advance_to(nxt.close_ts)
    node.market.on_candle(nxt)
    paper.on_candle(nxt)
    pos = node.portfolio.position("paper", "BTC/USDT", "manual")
    assert pos.quantity == Decimal("0.001")
    # A close of 0.0006 is on its way to the venue, which cannot cancel it any more.
    close = await node.submit(
        OrderIntent("manual", "paper", "BTC/USDT", Side.SELL, Decimal("0.0006"),
                    OrderType.MARKET, reduce_only=True)
    )  # fmt: skip
    assert close.ok

    async def refuse(order):
        raise RuntimeError("the order is being matched")

    paper.cancel = refuse
    report = await node.kill(reason="flatten test", by="pytest", flatten=True)
    flattens = _flattens(node)
    assert [o.amount for o in flattens] == [Decimal("0.0004")]
    assert report["closing"] == [{"position": "paper:BTC/USDT", "strategy": "manual",
                                  "working": [close.order.client_order_id],
                                  "amount": "0.0006"}]  # fmt: skip
    nxt2 = replace(nxt, ts=nxt.ts + 60_000)
    node.clock.advance_to(nxt2.close_ts)
    node.market.on_candle(nxt2)
    paper.on_candle(nxt2)
    assert pos.quantity == 0
    assert node.portfolio.position("paper", "BTC/USDT", "manual").quantity == 0
    node.close()


async def test_kill_flatten_leaves_a_position_a_working_close_sells_whole(tmp_path, data_dir):
    from dataclasses import replace

    node, _, _ = await _node_with_resting_orders(tmp_path, data_dir, 0)
    paper = node.venues["paper"]
    await node.submit(
        OrderIntent("manual", "paper", "BTC/USDT", Side.BUY, Decimal("0.001"), OrderType.MARKET)
    )
    last = node.market.candles["BTC/USDT"]
    nxt = replace(last, ts=last.ts + 60_000)
    node.clock.advance_to(nxt.close_ts)
    node.market.on_candle(nxt)
    paper.on_candle(nxt)
    close = await node.submit(
        OrderIntent("manual", "paper", "BTC/USDT", Side.SELL, Decimal("0.001"),
                    OrderType.MARKET, reduce_only=True)
    )  # fmt: skip
    assert close.ok

    async def refuse(order):
        raise RuntimeError("the order is being matched")

    paper.cancel = refuse
    report = await node.kill(reason="flatten test", by="pytest", flatten=True)
    assert _flattens(node) == []
    assert report["closed_positions"] == []
    assert report["closing"][0]["amount"] == "0.001"
    node.close()


def _flattens(node):
    orders = node.orders.orders.values()
    return [o for o in orders if o.signal.get("reason") == "kill switch flatten"]
