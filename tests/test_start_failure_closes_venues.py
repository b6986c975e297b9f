"""A start-up that fails (a venue down after another connected) closes every venue it
opened, in `run` (`arb run`, `pm arb run`) as in `api serve` and `kill`: before, the ccxt
client's HTTP session and the user streams of the venue already connected outlived the failed
start ("Unclosed client session" at exit, its sockets held by a process that runs on: the API,
a test harness, a node started again), and serve's signal handlers stayed on the loop."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
from collections.abc import Coroutine, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from live_support import sandbox_config, write_vault
from tradeguard.cli.common import start_run_stop
from tradeguard.config import Config
from tradeguard.model.errors import TradeguardError
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import seeded_exchange


def _open_sessions(node: TradingNode) -> list[str]:
    """The venues whose ccxt clients still hold an open HTTP session."""
    out = []
    for name, venue in node.venues.items():
        for client in (venue.client, getattr(venue, "_user_client", None)):
            session = getattr(client, "session", None)
            if session is not None and not session.closed:
                out.append(name)
    return out


def _own_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if not t.done()} - {asyncio.current_task()}


async def _failed_start(node: TradingNode, run: Coroutine[Any, Any, Any]) -> str:
    """Await `run` (a start of `node` that fails); return its one line, once checked that
    nothing it opened is left open."""
    before = _own_tasks()
    try:
        with pytest.raises(TradeguardError) as raised:
            await run
        left = {t.get_name() for t in _own_tasks() - before}
        assert not left, left  # no stream or duty task outlives the failed start
        assert _open_sessions(node) == []  # before: the ccxt session left open
        return str(raised.value)
    finally:
        await node.stop()  # what the test opened, whatever it found
        node.close()


def _second_down(tmp_path: Path, ex: SandboxExchange, port: int) -> TradingNode:
    """A node on `ex` (binance) and on a second venue whose port refuses connections."""
    cfg = sandbox_config(tmp_path, ex, []).model_dump()
    second = {**cfg["venues"][0], "name": "binance2"}
    second["rest_url"] = f"http://127.0.0.1:{port}"
    second["ws_url"] = f"ws://127.0.0.1:{port}"
    cfg["venues"].append(second)
    return TradingNode(Config.model_validate(cfg))


@pytest.fixture
def down_port() -> Iterator[int]:
    down = socket.socket()
    down.bind(("127.0.0.1", 0))  # held, never listening: connections to it are refused
    try:
        yield down.getsockname()[1]
    finally:
        down.close()


async def test_a_second_venue_down_at_start_closes_the_first_one_connected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, down_port: int
) -> None:
    write_vault(tmp_path, monkeypatch)
    async with seeded_exchange() as ex:
        node = _second_down(tmp_path, ex, down_port)
        said = await _failed_start(node, start_run_stop(node, None, duration_s=0.1))
        # closed, not broken: the node may start again in this process
        assert "BTC/USDT" in await node.venues["binance"].load_instruments()
        await node.venues["binance"].close()
    assert "binance2" in said and "\n" not in said, said


async def test_serve_whose_start_fails_closes_the_venues_it_connected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, down_port: int
) -> None:
    from rich.console import Console

    from tradeguard.cli.api import _serve

    write_vault(tmp_path, monkeypatch)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    async with seeded_exchange() as ex:
        node = _second_down(tmp_path, ex, down_port)
        console = Console(file=io.StringIO())
        said = await _failed_start(node, _serve(node, "127.0.0.1", 0, console))
    assert "binance2" in said, said
    # the loop's signal handlers given back (a harness's loop runs on)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers


async def test_kill_whose_start_fails_closes_the_venues_it_connected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, down_port: int
) -> None:
    from tradeguard.cli.control import _kill
    from tradeguard.model.enums import TradingState

    write_vault(tmp_path, monkeypatch)
    async with seeded_exchange() as ex:
        node = _second_down(tmp_path, ex, down_port)
        args = SimpleNamespace(reason="venue down", flatten=False)
        said = await _failed_start(node, _kill(node, args))
        assert node.risk.state is TradingState.HALTED  # halted before the start, all the same
    assert "binance2" in said, said


async def test_prediction_venues_closed_by_a_failed_start_connect_again() -> None:
    from eth_account import Account

    from pm_support import seeded_kalshi
    from tradeguard.clock import Clock
    from tradeguard.sandbox.kalshi.server import KalshiExchange
    from tradeguard.sandbox.polymarket.server import PolymarketExchange
    from tradeguard.venues.kalshi.venue import KalshiVenue
    from tradeguard.venues.polymarket.venue import PolymarketVenue

    async with KalshiExchange() as kx, PolymarketExchange() as px:
        key_id, pem = seeded_kalshi(kx)
        px.add_market("fed-dec", "1001", "1002")
        wallet = Account.create()
        px.add_account(wallet.address, Decimal("1000"))
        venues = [
            KalshiVenue("kalshi", kx.rest_url, key_id, pem, Clock(), "", False),
            PolymarketVenue("polymarket", px.url, wallet.key.hex(), Clock()),
        ]
        for venue in venues:
            await venue.connect()
            await venue.close()  # as a failed start-up closes it (or a stop)
            await venue.connect()  # before: "the client has been closed"
            assert await venue.fetch_balances()
            await venue.close()
