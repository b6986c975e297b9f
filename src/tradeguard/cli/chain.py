"""`tradeguard chain`: a local EVM with Uniswap V2 deployed, served as JSON-RPC on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from tradeguard.model.errors import ConfigError, TradeguardError

EXAMPLE = """\
example: tradeguard chain --port 8545 --deployment-file tradeguard-chain.json
then, in a second terminal: tradeguard run --config examples/dex_local.toml
"""


def add_chain_parser(sub: Any) -> None:
    p = sub.add_parser(
        "chain",
        help="run a local EVM with WETH9, Uniswap V2 and demo pools (JSON-RPC on 127.0.0.1)",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=8545, help="JSON-RPC port (default 8545)")
    p.add_argument(
        "--deployment-file",
        default="tradeguard-chain.json",
        help="where addresses and the demo wallet key are written (mode 0600)",
    )
    p.add_argument(
        "--legacy-receipts",
        action="store_true",
        help="answer receipts without effectiveGasPrice, as nodes before London (EIP-1559) do",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is out of range (allowed: 0..65535)")
    try:
        from tradeguard.sandbox.chain.artifacts import ArtifactError
        from tradeguard.sandbox.chain.server import serve_chain
    except ImportError as exc:
        raise ConfigError(
            f"the local chain needs the dex extra ({exc.name} is missing): pip install -e '.[dex]'"
        ) from None
    path = Path(args.deployment_file)
    if path.is_dir():  # found only once the chain was up, a failure "outside the input"
        raise ConfigError(f"--deployment-file {path} is a folder; give a file, e.g. chain.json")

    def ready(d: Any) -> None:
        print(f"chain {d.chain_id} on {d.rpc_url}: router {d.router}, factory {d.factory}")
        for symbol, pair in d.pairs.items():
            print(f"  pool {symbol} at {pair}")
        print(f"demo wallet {d.wallet_address}; addresses and its key in {path} (mode 0600)")
        if args.legacy_receipts:
            print("receipts answered without effectiveGasPrice (--legacy-receipts)")
        print("press Ctrl-C to stop", flush=True)

    try:
        asyncio.run(serve_chain(args.port, path, ready, legacy_receipts=args.legacy_receipts))
    except ArtifactError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        from tradeguard.sandbox.loopback import listen_error

        # a failure outside the input (exit 1), as the sandbox's busy port and the README say
        if exc.filename is not None:
            raise TradeguardError(
                f"cannot write --deployment-file {path}: {exc.strerror or exc}"
            ) from None
        raise TradeguardError(
            listen_error("127.0.0.1", args.port, exc).replace("sandbox", "chain", 1)
        ) from None
    return 0
