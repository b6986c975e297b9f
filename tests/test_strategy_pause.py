"""Pausing one strategy on a paper node: entries refused and audited, exits through, the pause
kept across a restart and by a replay, no new triangular cycle while paused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from node_support import paper_config, write_paper_toml, write_slice
from test_api_support import PERMISSIVE, next_candle
from test_triangular_exec_support import START_MS, small_universe
from tradeguard.cli.main import main
from tradeguard.config import Config, load_config
from tradeguard.model import OrderIntent, OrderType, Quote, Side, dec
from tradeguard.model.events import EventKind
from tradeguard.node import TradingNode, build_node
from tradeguard.node.pause import PAUSED_CODE, pauses_of, store_pause, stored_pauses
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from triangular_node_support import paper_arb_config

SID = "ma_cross"
BTC = "BTC/USDT"


def _config(tmp_path: Path, data_dir: Path, rows: int = 200) -> Config:
    data = write_slice(data_dir, tmp_path / "btc.csv", rows)
    return paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, risk=PERMISSIVE, tmp=tmp_path)


async def _started(cfg: Config) -> TradingNode:
    node = build_node(cfg)
    await node.start()
    await node.run()
    return node


async def _emit(node: TradingNode, side: Side, amount: str, reduce_only: bool = False) -> None:
    """Emit a market intent through the strategy's context, then let a quote drain the queue."""
    strat = next(s for s in node.strategies if s.id == SID)
    strat.emit(OrderIntent(SID, "paper", BTC, side, Decimal(amount), OrderType.MARKET,
                           reduce_only=reduce_only, signal={"why": "pause test"}))  # fmt: skip
    mid = node.market.mid(BTC)
    assert mid is not None
    await node.on_quote(Quote(BTC, node.clock.now_ms(), mid - 1, Decimal(5), mid + 1, Decimal(5)))


def _orders(node: TradingNode) -> list[tuple[str, str]]:
    mine = [o for o in node.storage.load_orders()
            if o.strategy_id == SID and o.signal.get("why") == "pause test"]  # fmt: skip
    return [(o.side.value, str(o.amount)) for o in sorted(mine, key=lambda o: o.client_order_id)]


def _paused_denials(node: TradingNode) -> list[dict[str, object]]:
    node.flush_audit()
    events = node.storage.load_events(kind_prefix=EventKind.RISK_DENIED, limit=1000)
    return [e.data for e in events if e.data.get("code") == PAUSED_CODE and e.strategy_id == SID]


def _position(node: TradingNode) -> Decimal:
    pos = node.portfolio.positions.get(("paper", BTC, SID))
    return Decimal(0) if pos is None else pos.quantity


async def test_a_paused_strategy_s_entry_is_refused_and_audited_and_its_exit_goes_through(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await _started(_config(tmp_path, data_dir))
    try:
        held = _position(node)
        await _emit(node, Side.BUY, "0.001")  # not paused: the entry goes out and fills
        next_candle(node)
        assert _position(node) == held + Decimal("0.001")

        pauses_of(node).pause(SID, "test", "unlock week")
        await _emit(node, Side.BUY, "0.001")  # grows the position: refused
        await _emit(node, Side.SELL, str(held + Decimal("0.002")))  # would flip it: refused
        assert len(_orders(node)) == 1
        [grow, flip] = reversed(_paused_denials(node))
        assert grow["side"] == "buy" and "strategy ma_cross is paused" in str(grow["reason"])
        assert "unlock week" in str(grow["reason"]) and flip["side"] == "sell"

        await _emit(node, Side.SELL, "0.0005")  # shrinks it: through
        await _emit(node, Side.SELL, "0.0005", reduce_only=True)  # reduce-only: through
        next_candle(node)
        assert _orders(node)[1:] == [("sell", "0.0005"), ("sell", "0.0005")]
        assert _position(node) == held
    finally:
        node.close()


async def test_the_pause_survives_a_restart_and_resume_lets_entries_through(
    tmp_path: Path, data_dir: Path
) -> None:
    cfg = _config(tmp_path, data_dir)
    node = await _started(cfg)
    pauses_of(node).pause(SID, "test", "restart check")
    node.close()

    node = await _started(cfg)
    try:
        assert pauses_of(node).ids == {SID}
        assert stored_pauses(node.storage)[SID]["reason"] == "restart check"
        await _emit(node, Side.BUY, "0.001")
        assert _orders(node) == [] and len(_paused_denials(node)) == 1
        assert pauses_of(node).resume(SID) is True
        await _emit(node, Side.BUY, "0.001")
        assert _orders(node) == [("buy", "0.001")]
    finally:
        node.close()
    assert stored_pauses(build_node(cfg).storage) == {}  # resumed for good


async def test_a_replay_honours_a_pause_stored_before_it_starts(
    tmp_path: Path, data_dir: Path
) -> None:
    """A stored pause holds from a replay's first candle: same data, same refusals, each time."""
    results = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        cfg = _config(folder, data_dir, rows=1500)
        node = build_node(cfg)
        pauses_of(node).pause(SID, "test", "before the replay")
        await node.start()
        await node.run()
        try:
            entries = [o for o in node.storage.load_orders() if o.strategy_id == SID]
            results.append((len(entries), [d["side"] for d in _paused_denials(node)]))
        finally:
            node.close()
    assert results[0] == results[1]
    assert results[0][0] == 0 and results[0][1], results  # the crossovers were all refused


def test_cli_pauses_and_resumes_a_configured_strategy_and_names_known_ids(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = write_paper_toml(tmp_path, write_slice(data_dir, tmp_path / "btc.csv", 50))
    base = ["--config", str(toml)]
    assert main(["strategy", "pause", SID, "--reason", "unlock", "--by", "ops", *base]) == 0
    node = build_node(load_config(toml))
    try:
        assert pauses_of(node).entries[SID]["by"] == "ops"
        [event] = node.storage.load_events(kind_prefix="strategy.paused")
        assert event.data["reason"] == "unlock" and event.strategy_id == SID
    finally:
        node.close()
    assert main(["strategy", "resume", SID, "--reason", "done", *base]) == 0
    capsys.readouterr()
    assert main(["strategy", "pause", "nope", "--reason", "x", *base]) == 2
    assert "no strategy 'nope' to pause or resume; known: ['ma_cross']" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # a bad argument, as `kill --reason` says it
        main(["strategy", "pause", SID, "--reason", "x" * 201, *base])
    assert refused.value.code == 2
    node = build_node(load_config(toml))
    try:
        assert pauses_of(node).ids == set()
    finally:
        node.close()


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--reason", "unlock\x1b[2J"], "--reason: not one line of text: character 6 is '\\x1b'"),
        (["--reason", "a\nflatten"], "--reason: not one line of text"),
        (["--reason", "x", "--by", "o" * 201], "--by: must hold 1 to 200 characters (got 201)"),
        (["--reason", "x", "--by", "ops\u202e"], "--by: not one line of text"),
    ],
    ids=["escape", "newline", "long-by", "bidi-by"],
)  # fmt: skip
def test_pause_refuses_a_reason_or_by_that_kill_and_resume_refuse(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], said: str
) -> None:
    """`strategy pause --reason` took a terminal escape and a line break, and `--by` anything
    of any length, which `kill` and `resume` refuse (README: 1 to 200 characters, one line)."""
    toml = write_paper_toml(tmp_path, write_slice(data_dir, tmp_path / "btc.csv", 50))
    with pytest.raises(SystemExit) as done:
        main(["strategy", "pause", SID, *extra, "--config", str(toml)])
    assert done.value.code == 2
    assert said in capsys.readouterr().err
    node = build_node(load_config(toml))
    try:
        assert pauses_of(node).ids == set()
    finally:
        node.close()


async def test_a_paused_triangular_strategy_starts_no_cycle_until_resumed(
    tmp_path: Path,
) -> None:
    params = {"cooldown_s": 0, "exec": {"start_assets": ["USDT"], "max_size_usd": "500"}}
    node = TradingNode(paper_arb_config(tmp_path, params))
    try:
        await node.start()
        node.clock.advance_to(START_MS)
        node.start_strategies()
        pauses_of(node).pause("tri", "test", "no new cycles")

        async def feed(ts: int) -> None:
            for symbol, t in small_universe().tickers.items():
                q = Quote(symbol, ts, dec(t.bid), dec(t.bid_size), dec(t.ask), dec(t.ask_size))
                await node.on_quote(q)

        await feed(START_MS)
        strat = node.strategies[0]
        await strat.on_stopping()  # waits for any cycle the quotes started
        assert node.storage.load_orders() == []
        node.flush_audit()
        denied = node.storage.load_events(kind_prefix=EventKind.RISK_DENIED, limit=100)
        assert denied and {e.data["code"] for e in denied} == {PAUSED_CODE}
        assert {e.strategy_id for e in denied} == {"tri"}

        pauses_of(node).resume("tri")
        node.clock.advance_to(START_MS + 1_000)
        strat.on_start()
        await feed(START_MS + 1_000)
        await node.stop_strategies()
        rows = load_arb_executions(node.storage, strategy_id="tri")
        assert "completed" in [r["outcome"] for r in rows], rows
        assert node.storage.load_orders() != []
    finally:
        node.close()


async def test_a_kill_switch_flatten_closes_a_paused_strategy_s_position(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await _started(_config(tmp_path, data_dir))
    try:
        await _emit(node, Side.BUY, "0.001")
        next_candle(node)
        assert _position(node) > 0
        pauses_of(node).pause(SID, "test", "flatten check")
        report = await node.kill("drill", "pytest", flatten=True)
        next_candle(node)
        assert report["closed_positions"] == [f"paper:{BTC}"]
        assert _position(node) == 0
    finally:
        node.close()


async def test_a_pause_written_beside_a_running_node_is_reread_at_most_once_a_second(
    tmp_path: Path, data_dir: Path
) -> None:
    """What `tradeguard strategy pause` writes reaches a node on live streams, whose feed calls
    `tick` before each market event (a replay never does)."""
    node = await _started(_config(tmp_path, data_dir))
    try:
        beside = Storage(Database(node.config.node.database_url))
        store_pause(beside, SID, {"by": "cli", "reason": "beside", "ts": 1})
        assert pauses_of(node).ids == set()  # the replay read the set once, at build
        pauses_of(node).tick()
        assert pauses_of(node).ids == {SID}
        store_pause(beside, SID, None)
        pauses_of(node).tick()  # within REFRESH_S of the last read: not reread yet
        assert pauses_of(node).ids == {SID}
        beside.db.dispose()
    finally:
        node.close()


async def test_a_failed_reread_keeps_the_paused_set(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = await _started(_config(tmp_path, data_dir))
    try:
        pauses_of(node).pause(SID, "test", "busy database")

        def busy(storage: Storage) -> None:
            raise OperationalError("SELECT", {}, Exception("database is locked"))

        monkeypatch.setattr("tradeguard.node.pause.stored_pauses", busy)
        pauses_of(node).tick()
        assert pauses_of(node).ids == {SID}
    finally:
        node.close()


def test_status_shows_a_paused_strategy_and_a_halt_in_its_table_and_json(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import re
    import sys

    from pty_support import run_in_pty

    toml = write_paper_toml(tmp_path, write_slice(data_dir, tmp_path / "btc.csv", 300))
    base = ["--config", str(toml)]
    assert main(["run", "--until-end", *base]) == 0
    assert main(["strategy", "pause", SID, "--reason", "unlock", "--by", "ops", *base]) == 0
    capsys.readouterr()
    assert main(["status", "--json", *base]) == 0
    [shown] = json.loads(capsys.readouterr().out)["strategies"]
    assert shown["status"] == "paused" and shown["paused"] is True
    assert shown["pause"]["by"] == "ops" and shown["pause"]["reason"] == "unlock"
    argv = [sys.executable, "-m", "tradeguard.cli", "status", *base]
    code, screen = run_in_pty(argv, cwd=tmp_path, timeout_s=60)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert code == 0 and "│ ma_cross │ paused " in screen, screen
    assert main(["strategy", "resume", SID, "--reason", "done", *base]) == 0
    assert main(["kill", *base]) == 0
    capsys.readouterr()
    assert main(["status", "--json", *base]) == 0
    [shown] = json.loads(capsys.readouterr().out)["strategies"]
    assert shown["status"] == "halted" and shown["paused"] is False and shown["pause"] is None
