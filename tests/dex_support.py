"""A local chain with the Uniswap V2 contracts served over JSON-RPC in a thread, for tests."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order
from tradeguard.sandbox.chain.deploy import Deployment, deploy_demo
from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer
from tradeguard.venues.uniswap_v2.settings import DexSettings, Token
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore, TxStore
from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue


class ChainThread:
    """Deploys the demo contracts and serves them on 127.0.0.1 from a background thread."""

    def __init__(self) -> None:
        self.chain = LocalChain()
        self.deployment: Deployment = deploy_demo(self.chain.w3)
        self.server = RpcServer(self.chain, port=0)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.deployment.rpc_url = self.server.url

    def rpc(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        req = urllib.request.Request(
            self.server.url, body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def automine(self, on: bool) -> None:
        self.rpc("tg_setAutomine", on)

    def mine(self) -> None:
        self.rpc("evm_mine")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def running_chain() -> Iterator[ChainThread]:
    chain = ChainThread()
    try:
        yield chain
    finally:
        chain.stop()


def settings_for(d: Deployment, **overrides: Any) -> DexSettings:
    tokens = {name: Token(name, addr, 18) for name, addr in d.tokens.items()}
    base = DexSettings(
        rpc_url=d.rpc_url,
        router=d.router,
        factory=d.factory,
        tokens=tokens,
        symbols=["WETH/USD", "TKA/USD"],
        receipt_timeout_s=5.0,
        max_fee_per_gas_gwei=Decimal(100),
    )
    return replace(base, **overrides)


async def connected_venue(
    d: Deployment, store: TxStore | None = None, **overrides: Any
) -> UniswapV2Venue:
    venue = UniswapV2Venue(
        "dex", settings_for(d, **overrides), store or MemoryTxStore(), d.wallet_private_key
    )
    await venue.connect()
    return venue


def dex_order(
    cid: str, amount: str = "0.1", *, side: Side = Side.SELL, symbol: str = "WETH/USD"
) -> Order:
    """A market order for the demo pool, as the engine hands it to the venue."""
    return Order(
        client_order_id=cid, strategy_id="t", venue="dex", symbol=symbol, side=side,
        type=OrderType.MARKET, amount=Decimal(amount), status=OrderStatus.SUBMITTED,
    )  # fmt: skip
