"""A node run again in the same process (the API, a test harness): what an earlier run left
must not end or mislead the next one (a state store's error, strategies whose orders were
dropped unsent or that a Ctrl-C abandoned, venues closed by a stop or a failed start-up, on
the same event loop or a new one); and a failed start leaves no venue open."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from live_support import move_books, sandbox_config
from test_state_saves import OnceUnstorable as OnceUnstorableAsker
from tradeguard.cli.common import start_run_stop
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Quote
from tradeguard.node import TradingNode
from tradeguard.sandbox.testing import seeded_exchange
from tradeguard.strategies.base import Strategy


class OnceUnstorable(Strategy):
    """On its first quote asks a state stored that JSON cannot hold; fine from its stop on."""

    timeframe = None
    asked = 0
    bad = False

    def on_ticker(self, quote: Quote) -> None:
        self.asked += 1
        if self.asked == 1:
            self.bad = True
        self.save_soon()

    def on_stop(self) -> None:
        self.bad = False

    def state(self) -> dict[str, Any]:
        return {"handle": object()} if self.bad else {"asked": self.asked}


ONCE = {
    "id": "once", "kind": "test_node_run_again_clean:OnceUnstorable", "venue": "binance",
    "symbol": "BTC/USDT", "params": {},
}  # fmt: skip


@pytest.mark.usefixtures("vault_env")
async def test_a_run_after_one_a_state_store_ended_is_not_ended_by_its_error(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, [ONCE], state_save_interval_s=0))
        books = asyncio.create_task(move_books(ex, 0.05))
        try:
            with pytest.raises(ConfigError, match="handle"):  # run 1: ended by the store
                await asyncio.wait_for(start_run_stop(node, None, duration_s=60), 60)
            strat = node.strategies[0]
            asked = strat.asked
            # run 2: before, ended at once with run 1's error
            summary = await asyncio.wait_for(start_run_stop(node, None, duration_s=1.5), 60)
            assert summary is not None
            assert strat.asked > asked  # it traded on quotes in run 2
            stored = node.storage.load_run_state("once").state
            assert stored["asked"] > asked  # its asked states are stored again
        finally:
            books.cancel()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_a_ccxt_venue_closed_connects_again_on_another_event_loop(tmp_path: Path) -> None:
    """A node started again by a second `asyncio.run` (a harness, a command run twice in one
    process): before, the reopened ccxt client was bound to the first, closed, event loop."""
    async with seeded_exchange() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, []))
        venue = node.venues["binance"]

        async def once() -> set[str]:
            await venue.connect()
            try:
                return {b.asset for b in await venue.fetch_balances()}
            finally:
                await venue.close()

        def two_runs() -> list[set[str]]:  # each its own event loop, as each command's
            return [asyncio.run(once()) for _ in range(2)]

        try:
            first, second = await asyncio.wait_for(asyncio.to_thread(two_runs), 60)
        finally:
            node.close()
    assert "USDT" in first and second == first


class _Held:
    def __init__(self, sid: str) -> None:
        self.id = sid
        self.state: dict[str, Any] = {"half": "made"}

    def restore(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


def test_an_abandoned_strategy_is_given_back_its_newest_record_too(tmp_path: Path) -> None:
    """A strategy that committed a record (an arbitrage cycle's row, its state with it) and was
    then abandoned by a Ctrl-C: a process started again resumes from that record's state, newer
    than the last checkpoint's; the node run again in the same process gave back only the
    checkpoint's, forgetting the cycle it recorded."""
    from test_state_saves import _rig
    from tradeguard.execution.gateway import RECORD_STATE_KEY
    from tradeguard.node.checkpoint import take_back_states
    from tradeguard.storage.repository import RunState

    storage, _, node = _rig(tmp_path)
    try:
        with storage.transaction():
            saved = {"record_id": 1, "legs": 0}
            storage.save_run_state(RunState(strategy_id="s1", status="running", state=saved))
            storage.kv_set(RECORD_STATE_KEY.format("s1"), {"record_id": 2, "legs": 3})
        s1 = _Held("s1")
        node.strategies, node._run_states = [s1], {}
        take_back_states(node, ["s1"])
        assert s1.state == {"record_id": 2, "legs": 3}  # as a start in a new process
    finally:
        storage.db.dispose()


async def test_prediction_data_venues_closed_load_their_markets_again() -> None:
    """The data-only Kalshi and Polymarket venues (paper trading on their public books), as a
    stop or a failed start-up closes them: before, a node started again in this process could
    not load their markets ("the client has been closed")."""
    from pm_support import seeded_kalshi
    from tradeguard.clock import Clock
    from tradeguard.sandbox.kalshi.server import KalshiExchange
    from tradeguard.sandbox.polymarket.server import PolymarketExchange
    from tradeguard.venues.pm_public import KalshiPublicData, PolymarketPublicData

    async with KalshiExchange() as kx, PolymarketExchange() as px:
        seeded_kalshi(kx)
        px.add_market("fed-dec", "1001", "1002")
        venues = [
            KalshiPublicData("kalshi", kx.rest_url, Clock()),
            PolymarketPublicData("polymarket", px.url, Clock(), px.url + "/ws/market"),
        ]
        for venue in venues:
            first = set(await venue.load_instruments())
            assert first, venue.name
            await venue.close()  # as a stop, or a failed start-up, closes it
            try:
                assert set(await venue.load_instruments()) == first
            finally:
                await venue.close()


class StuckAtStop(Strategy):
    """A state JSON cannot hold from its stop on."""

    timeframe = None
    stopped = False

    def on_stop(self) -> None:
        self.stopped = True

    def state(self) -> dict[str, Any]:
        return {"handle": object()} if self.stopped else {"stopped": False}


STUCK = {**ONCE, "id": "stuck", "kind": "test_node_run_again_clean:StuckAtStop"}


@pytest.mark.usefixtures("vault_env")
async def test_a_state_unstorable_at_a_stop_another_error_ended_is_still_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A run ended by one error (here a prompt store that failed) whose stop then found another
    strategy's state unstorable: before, that strategy's line was said nowhere (the run's
    error won), its last stored state kept in silence."""
    async with seeded_exchange() as ex:
        config = sandbox_config(tmp_path, ex, [ONCE, STUCK], state_save_interval_s=0)
        node = TradingNode(config)
        books = asyncio.create_task(move_books(ex, 0.05))
        try:
            with pytest.raises(ConfigError, match="'once'"):
                await asyncio.wait_for(start_run_stop(node, None, duration_s=60), 60)
        finally:
            books.cancel()
            node.close()
    said = [r.getMessage() for r in caplog.records if "'stuck'" in r.getMessage()]
    assert any("last stored state" in line for line in said), said


class RestoringAsker(OnceUnstorableAsker):
    def restore(self, state: dict[str, Any]) -> None:
        self.sent = int(state.get("sent", 0))


@pytest.mark.usefixtures("vault_env")
async def test_a_strategy_whose_order_was_dropped_unsent_resumes_from_its_stored_state(
    tmp_path: Path,
) -> None:
    """Run 1 drops a strategy's entry unsent (the state asked stored with it could not be) and
    ends; its state in memory says the entry went out. Run 2 of the node in the same process
    gives it its last stored state back (as a new process would start it), so it sends the
    entry; before, it went on believing the entry sent and never sent one."""
    from test_state_saves import ASKER
    from tradeguard.storage.repository import RunState

    asker = {**ASKER, "kind": "test_node_run_again_clean:RestoringAsker"}
    async with seeded_exchange() as ex:
        node = TradingNode(sandbox_config(tmp_path, ex, [asker], state_save_interval_s=0))
        with node.storage.transaction():  # what an earlier run stored
            node.storage.save_run_state(RunState("ask", status="running", state={"sent": 0}))
        node._run_states.clear()
        books = asyncio.create_task(move_books(ex, 0.05))
        try:
            with pytest.raises(ConfigError, match="'ask'"):
                await asyncio.wait_for(start_run_stop(node, None, duration_s=60), 60)
            assert [o for o in node.orders.orders.values() if o.strategy_id == "ask"] == []
            await asyncio.wait_for(start_run_stop(node, None, duration_s=1.5), 60)
            sent = [o for o in node.orders.orders.values() if o.strategy_id == "ask"]
            assert len(sent) == 1, sent  # before: none, the strategy took it for sent
        finally:
            books.cancel()
            node.close()


@pytest.mark.usefixtures("vault_env")
async def test_serve_with_a_bad_tls_pair_leaves_no_venue_open(tmp_path: Path) -> None:
    """`api serve` whose certificate file is not a PEM chain: before, the venues connected
    first and the server's check failed after, outside the stop that closes them (the ccxt
    session and user streams left open). Now the check comes before any venue connects."""
    import io

    from rich.console import Console

    from test_start_failure_closes_venues import _failed_start
    from tradeguard.cli.api import _serve
    from tradeguard.config import Config

    (tmp_path / "cert.pem").write_text("not a certificate\n")
    (tmp_path / "key.pem").write_text("not a key\n")
    async with seeded_exchange() as ex:
        cfg = sandbox_config(tmp_path, ex, []).model_dump()
        cfg["api"] = {
            **cfg["api"],
            "tls_certfile": str(tmp_path / "cert.pem"),
            "tls_keyfile": str(tmp_path / "key.pem"),
        }
        node = TradingNode(Config.model_validate(cfg))
        console = Console(file=io.StringIO())
        said = await _failed_start(node, _serve(node, "127.0.0.1", 0, console))
    assert "api.tls_certfile" in said, said


async def test_alerts_started_again_on_another_event_loop_are_delivered() -> None:
    """A node started again by a second `asyncio.run` starts its alert senders again: before,
    their queues were bound to the first event loop, the new sender died on its first wait
    and every alert of the second run stayed undelivered (the stop then failed on them)."""
    from test_alerts_channels import serve_http
    from test_alerts_manager import closed
    from tradeguard.alerts import AlertManager, AlertsConfig, WebhookChannel

    async with serve_http() as receiver:
        manager = AlertManager(AlertsConfig(), [WebhookChannel(f"{receiver.base}/hook", "slack")])

        async def one_run(ts: int) -> int:
            await manager.start()
            await asyncio.sleep(0)  # the sender waits on its queue
            manager.on_event(closed(ts))
            await manager.stop(timeout_s=30)  # delivers what is queued first
            return manager.counters["sent"]

        def two_runs() -> list[int]:  # each its own event loop, as each command's
            return [asyncio.run(one_run(ts)) for ts in (1, 2)]

        assert await asyncio.wait_for(asyncio.to_thread(two_runs), 60) == [1, 2]
        assert len(receiver.requests) == 2
