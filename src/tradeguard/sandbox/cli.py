"""`tradeguard sandbox`: run the local Binance-compatible exchange until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange

_DEMO_MARKETS: list[dict[str, Any]] = [
    {
        "symbol": "BTCUSDT",
        "base": "BTC",
        "quote": "USDT",
        "tick": "0.01",
        "step": "0.00001",
        "min_qty": "0.00001",
        "min_notional": "5",
        "bids": [["49999.00", "1"], ["49998.00", "2"]],
        "asks": [["50001.00", "1"], ["50002.00", "2"]],
    },
    {
        "symbol": "ETHUSDT",
        "base": "ETH",
        "quote": "USDT",
        "tick": "0.01",
        "step": "0.0001",
        "min_qty": "0.0001",
        "min_notional": "5",
        "bids": [["2999.00", "10"]],
        "asks": [["3001.00", "10"]],
    },
]


DRIFT_UNIVERSE_MARKETS = 150


def _number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def add_sandbox_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `sandbox` command on an argparse subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox", help="run a local exchange speaking Binance's spot API (127.0.0.1 only)"
    )
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    p.add_argument("--port", type=int, default=8765, help="TCP port (0 picks a free one)")
    p.add_argument("--config", type=Path, default=None, help="TOML or JSON sandbox config")
    p.add_argument("--seed", type=int, default=None, help="seed of every random draw")
    p.add_argument("--universe", type=int, default=None, help="generate N extra markets")
    p.add_argument(
        "--faults", default=None, help="fault settings as JSON, e.g. '{\"latency_ms\": 200}'"
    )
    p.add_argument("--weight-limit", type=int, default=None, help="request weight per minute")
    p.add_argument(
        "--arb-drift",
        type=int,
        default=None,
        metavar="MS",
        help="every MS ms, move one market of a triangle so that it pays beyond fees for a while "
        "(generates a 150-market universe unless markets are configured)",
    )
    p.add_argument(
        "--arb-drift-hold", type=int, default=None, metavar="MS",
        help="how long a moved book stays unless traded away (default 1000)",
    )  # fmt: skip
    p.add_argument(
        "--arb-drift-edge", type=_number, default=None, metavar="PCT",
        help="profit the moved triangle offers beyond taker fees, in percent (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--dialect", choices=["binance", "kalshi", "polymarket"], default="binance",
        help="which venue's API to speak (kalshi and polymarket serve a demo event universe)",
    )  # fmt: skip
    p.add_argument(
        "--keys-file", type=Path, default=None,
        help="kalshi/polymarket: write the demo account's credentials here as JSON, reuse them",
    )  # fmt: skip
    p.set_defaults(func=run_sandbox_command)
    return p


def build_config(args: argparse.Namespace) -> SandboxConfig:
    """Merge the config file (if any) with command-line overrides."""
    config = SandboxConfig.from_file(args.config) if args.config else SandboxConfig()
    config.host = args.host
    config.port = args.port
    if args.seed is not None:
        config.seed = args.seed
        config.faults.update({"seed": args.seed})
    if args.universe is not None:
        config.universe_markets = args.universe
    if args.weight_limit is not None:
        config.weight_limit_per_minute = args.weight_limit
    if args.faults:
        config.faults.update(json.loads(args.faults))
    if args.arb_drift is not None:
        config.arb_drift_every_ms = args.arb_drift
    if args.arb_drift_hold is not None:
        config.arb_drift_hold_ms = args.arb_drift_hold
    if args.arb_drift_edge is not None:
        config.arb_drift_edge_pct = args.arb_drift_edge
    if config.arb_drift_every_ms and not config.markets and not config.universe_markets:
        config.universe_markets = DRIFT_UNIVERSE_MARKETS
    if not config.markets and not config.universe_markets:
        config.markets = [dict(m) for m in _DEMO_MARKETS]
    config.validate()
    return config


async def serve(config: SandboxConfig, out: TextIO = sys.stdout) -> None:
    """Start the exchange, print its URLs and a fresh demo key pair, serve until cancelled."""
    ex = SandboxExchange(config)
    api_key = secrets.token_hex(32)
    secret = secrets.token_hex(32)
    ex.add_account(api_key, secret, {"USDT": Decimal("100000"), "BTC": Decimal("2")})
    await ex.start()
    try:
        print(f"sandbox REST   {ex.rest_url}", file=out)
        print(f"sandbox WS     {ex.ws_url}", file=out)
        print(f"sandbox WS-API {ex.ws_api_url}", file=out)
        print(f"admin          {ex.base_url}/admin/faults", file=out)
        if ex.drift is not None:
            c = config
            print(
                f"arb drift      every {c.arb_drift_every_ms} ms one of {len(ex.drift.triangles)} "
                f"triangles pays {c.arb_drift_edge_pct}% beyond fees for up to "
                f"{c.arb_drift_hold_ms} ms (seed {c.seed})",
                file=out,
            )
        print(f"demo api key   {api_key}", file=out)
        print(f"demo secret    {secret}  (shown once: store it in the vault now)", file=out)
        out.flush()
        await asyncio.Event().wait()
    finally:
        await ex.stop()


def run_sandbox_command(args: argparse.Namespace) -> int:
    """Entry point for `tradeguard sandbox`."""
    if getattr(args, "dialect", "binance") != "binance":
        from tradeguard.sandbox.pm_serve import serve_pm

        try:
            asyncio.run(serve_pm(args.dialect, args.host, args.port, args.keys_file))
        except KeyboardInterrupt:
            return 0
        except ValueError as exc:  # a bad keys file or host: one line, no traceback
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    config = build_config(args)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        return 0
    return 0
