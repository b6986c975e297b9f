"""Run the local chain: deploy the demo contracts, write the deployment file, serve JSON-RPC."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tradeguard.sandbox.chain.deploy import Deployment, deploy_demo
from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer


async def serve_chain(
    port: int,
    deployment_file: Path | None,
    ready: Callable[[Deployment], None],
    stop: asyncio.Event | None = None,
    *,
    legacy_receipts: bool = False,
) -> None:
    """Deploy, write `deployment_file` (mode 0600), call `ready`, serve until `stop` is set;
    `legacy_receipts` answers receipts as a node before London does (no effectiveGasPrice)."""
    chain = LocalChain(legacy_receipts=legacy_receipts)
    server = RpcServer(chain, port=port)
    await server.start()
    try:
        deployment = deploy_demo(chain.w3, rpc_url=server.url)
        if deployment_file is not None:
            deployment.write(deployment_file)
        ready(deployment)
        await (stop or asyncio.Event()).wait()
    finally:
        await server.stop()
