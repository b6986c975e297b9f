"""A start-up that fails (a venue down after another connected) closes every venue it
opened: before, the ccxt client's HTTP session (and the user streams of a venue already
connected) outlived the failed start ("Unclosed client session" at exit, its sockets held by a
process that runs on: the API, a test harness, a node started again)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from live_support import sandbox_config, write_vault
from tradeguard.cli.common import start_run_stop
from tradeguard.model.errors import TradeguardError
from tradeguard.node import TradingNode
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


async def _failed_start(node: TradingNode) -> str:
    before = _own_tasks()
    try:
        with pytest.raises(TradeguardError) as raised:
            await start_run_stop(node, None, duration_s=0.1)
        left = {t.get_name() for t in _own_tasks() - before}
        assert not left, left  # no stream or duty task outlives the failed start
        assert _open_sessions(node) == []  # before: the ccxt session left open
        return str(raised.value)
    finally:
        await node.stop()  # what the test opened, whatever it found
        node.close()


async def test_a_second_venue_down_at_start_closes_the_first_one_connected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    down = socket.socket()
    down.bind(("127.0.0.1", 0))  # held, never listening: connections to it are refused
    port = down.getsockname()[1]
    try:
        async with seeded_exchange() as ex:
            cfg = sandbox_config(tmp_path, ex, []).model_dump()
            second = {**cfg["venues"][0], "name": "binance2"}
            second["rest_url"] = f"http://127.0.0.1:{port}"
            second["ws_url"] = f"ws://127.0.0.1:{port}"
            cfg["venues"].append(second)
            from tradeguard.config import Config

            node = TradingNode(Config.model_validate(cfg))
            said = await _failed_start(node)
            # closed, not broken: the node may start again in this process
            assert "BTC/USDT" in await node.venues["binance"].load_instruments()
            await node.venues["binance"].close()
    finally:
        down.close()
    assert "binance2" in said and "\n" not in said, said
