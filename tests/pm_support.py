"""Shared helpers for the prediction-market tests: RSA keys, a seeded local Kalshi, a signed
socket to it, the message of a venue call's ambiguous error, and both local servers with an
arbitrage node whose first pair completed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tradeguard.model.errors import AmbiguousVenueError
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.venues.kalshi.signing import sign as kalshi_sign

TICKER = "KXFED-26DEC-T4.00"


async def ambiguous_message(call: Awaitable[object]) -> str:
    """The message of the AmbiguousVenueError a venue call raises (it must raise one)."""
    with pytest.raises(AmbiguousVenueError) as err:
        await call
    return str(err.value)


def rsa_pem() -> tuple[str, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key


def seeded_kalshi(ex: KalshiExchange, cash: str = "1000") -> tuple[str, str]:
    """Add one market with house liquidity and a funded account; return (key_id, pem)."""
    ex.add_market(TICKER, "KXFED-26DEC", "Fed funds above 4.00% in December?")
    ex.seed_book(TICKER, yes_bids=[("0.45", "100")], yes_asks=[("0.47", "100")])
    pem, key = rsa_pem()
    key_id = ex.add_account(key.public_key(), Decimal(cash))
    return key_id, pem


def kalshi_ws_headers(key_id: str, pem: str) -> dict[str, str]:
    """The signed headers of a websocket handshake to the local Kalshi, signed now."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    now = str(int(time.time() * 1000))
    return {
        "KALSHI-ACCESS-KEY": key_id, "KALSHI-ACCESS-TIMESTAMP": now,
        "KALSHI-ACCESS-SIGNATURE": kalshi_sign(key, now, "GET", "/trade-api/ws/v2"),
    }  # fmt: skip


@asynccontextmanager
async def kalshi_socket(
    ex: KalshiExchange, key_id: str, pem: str
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A websocket to the local Kalshi, signed in as the account (key_id, pem)."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ex.ws_url, headers=kalshi_ws_headers(key_id, pem)) as ws,
    ):
        yield ws


@asynccontextmanager
async def arb_servers(tmp: Path, monkeypatch: Any) -> AsyncIterator[tuple[Any, Any]]:
    """The local Kalshi and Polymarket servers, started, with both accounts' keys in a vault
    under `tmp`; yields (kalshi, pm) and stops both servers at the end."""
    from test_pm_arb_node import vault_with_both
    from tradeguard.sandbox.pm_serve import (
        kalshi_demo,
        kalshi_keys,
        polymarket_demo,
        polymarket_keys,
    )

    k_keys, pm_keys = kalshi_keys(None), polymarket_keys(None)
    kalshi, pm = kalshi_demo(k_keys), polymarket_demo(pm_keys)
    await kalshi.start()
    await pm.start()
    try:
        vault_with_both(tmp, monkeypatch, k_keys, pm_keys)
        yield kalshi, pm
    finally:
        await pm.stop()
        await kalshi.stop()


@dataclass
class ArbRun:
    """A running arbitrage node (both local servers) whose first attempt completed a pair."""

    kalshi: Any
    pm: Any
    cfg: Any
    node: Any
    strat: Any
    run: asyncio.Task[Any]
    done: Any  # the completed attempt's record
    fill: Any  # its Polymarket leg's fill
    stopped: bool = False

    async def stop(self, close: bool = False) -> None:
        """Stop the node's run, then the node (and close it when asked); once."""
        self.stopped = True
        self.node.request_stop()
        await self.run
        await self.node.stop()
        if close:
            self.node.close()


@asynccontextmanager
async def completed_arb_pair(
    tmp: Path, monkeypatch: Any, policy: str, cooldown_after_trade_s: int | None = None
) -> AsyncIterator[ArbRun]:
    """Both local servers and a node running the arbitrage strategy (`on_interrupted`
    `policy`) on one paired market of 20 contracts, yielded once its first attempt completed
    the pair; the node stopped (unless the test did) and the servers at the end."""
    from test_pm_arb_node import arb_config
    from tradeguard.node import TradingNode
    from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
    from tradeguard.sandbox.pm_serve import paired_markets

    async with arb_servers(tmp, monkeypatch) as (kalshi, pm):
        scenario = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1],
                               ArbScenarioConfig(size=Decimal(20)))  # fmt: skip
        cfg = arb_config(tmp, kalshi, pm, {"on_interrupted": policy}, {})
        if cooldown_after_trade_s is not None:
            cfg.risk.cooldown_after_trade_s = cooldown_after_trade_s
        node = TradingNode(cfg)
        for venue in node.venues.values():
            venue.quote_poll_s = 0.05
        await node.start()
        strat = node.strategies[0]
        run = asyncio.create_task(node.run_live(duration_s=30))
        arb = ArbRun(kalshi, pm, cfg, node, strat, run, None, None)
        try:
            await asyncio.sleep(0.3)
            scenario.appear(scenario.markets[0])
            for _ in range(400):
                if strat.attempts:
                    break
                await asyncio.sleep(0.025)
            [arb.done] = strat.attempts
            assert arb.done.outcome == "completed", arb.done.reason
            [arb.fill] = node.storage.load_fills(venue="polymarket")
            yield arb
        finally:
            if not arb.stopped:
                await arb.stop()
