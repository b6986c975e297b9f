"""`tradeguard sandbox`: run the local Binance-compatible exchange until interrupted
(`--dialect kraken`: the same exchange speaking Kraken's spot REST API).

The demo account's key pair is kept in a keys file (`--keys-file`, default
./tradeguard-sandbox-keys.json, mode 0600) so that every start answers to the same pair and a
vault entry made from it stays valid: `tradeguard keys add NAME --stdin < KEYS_FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from tradeguard.model.errors import ConfigError
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
DEFAULT_KEYS_FILE = "tradeguard-sandbox-keys.json"
DEMO_BALANCES = {"USDT": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("50")}
# Config keys the command line sets, and the flag that sets each.
_FLAGS = {
    "sandbox.host": "--host", "sandbox.port": "--port", "sandbox.universe_markets": "--universe",
    "sandbox.weight_limit_per_minute": "--weight-limit",
    "sandbox.arb_drift_every_ms": "--arb-drift", "sandbox.arb_drift_hold_ms": "--arb-drift-hold",
    "sandbox.arb_drift_edge_pct": "--arb-drift-edge", "sandbox.faults": "--faults",
    "sandbox.head_timeout_s": "--head-timeout", "sandbox.body_timeout_s": "--body-timeout",
    "sandbox.idle_timeout_s": "--idle-timeout", "sandbox.max_connections": "--max-connections",
}  # fmt: skip
# the connection flags: (argparse dest, config field)
_CONN_FLAGS = (
    ("head_timeout", "head_timeout_s"), ("body_timeout", "body_timeout_s"),
    ("idle_timeout", "idle_timeout_s"), ("max_connections", "max_connections"),
)  # fmt: skip


def _number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _faults(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested arrays
        raise argparse.ArgumentTypeError(
            f"{text[:80]!r} is not a JSON object, e.g. '{{\"latency_ms\": 200}}'"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object of fault settings")
    return value


def add_sandbox_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `sandbox` command on an argparse subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="run a local exchange speaking Binance's (or Kraken's) spot API (127.0.0.1 only)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: tradeguard sandbox --port 8765 --arb-drift 500",
    )
    p.add_argument(
        "--keys-file", type=Path, default=Path(DEFAULT_KEYS_FILE), metavar="PATH",
        help=f"the demo account's key pair, created on first start (default ./{DEFAULT_KEYS_FILE})",
    )  # fmt: skip
    p.add_argument(
        "--dialect", choices=["binance", "kraken", "kalshi", "polymarket"], default="binance",
        help="which venue's API to speak (kraken: spot REST over the same engine and options; "
        "kalshi and polymarket serve a demo event universe; all but binance keep their keys in "
        "./tradeguard-DIALECT-keys.json by default)",
    )  # fmt: skip
    p.add_argument(
        "--scenario", choices=["arb", "arb-fail"], default="",
        help="kalshi/polymarket: mispricings against the other venue appear and vanish on the "
        "markets listed on both (arb-fail: pulled the instant the second leg arrives)",
    )  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    p.add_argument("--port", type=int, default=8765, help="TCP port (0 picks a free one)")
    p.add_argument("--config", type=Path, default=None, help="TOML or JSON sandbox config")
    p.add_argument("--seed", type=int, default=None, help="seed of every random draw")
    p.add_argument("--universe", type=int, default=None, help="generate N extra markets")
    p.add_argument(
        "--faults", type=_faults, default=None,
        help="fault settings as JSON, e.g. '{\"latency_ms\": 200}'",
    )  # fmt: skip
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
        "--replay", nargs="+", metavar="FILE[:SYMBOL]", help="markets follow these candle files"
    )
    p.add_argument("--speed", type=_number, default=None, metavar="N", help="replay N times faster")
    _add_connection_flags(p)
    p.add_argument(
        "--log-requests",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON lines of every REST call",
    )
    p.set_defaults(func=run_sandbox_command)
    return p


def _add_connection_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connections (every dialect; sandbox.* keys of --config)")
    g.add_argument(
        "--head-timeout", type=float, default=None, metavar="S",
        help="a request head not whole S seconds after its first byte gets 408 (default 10)",
    )  # fmt: skip
    g.add_argument(
        "--body-timeout", type=float, default=None, metavar="S",
        help="a request body not whole S seconds after its head gets 408 (default 10)",
    )  # fmt: skip
    g.add_argument(
        "--idle-timeout", type=float, default=None, metavar="S",
        help="close a kept-alive connection idle this long (default 75)",
    )  # fmt: skip
    g.add_argument(
        "--max-connections", type=int, default=None, metavar="N",
        help="answer one connection over N with 503 and close it (default 512)",
    )  # fmt: skip


def build_config(args: argparse.Namespace) -> SandboxConfig:
    """Merge the config file (if any) with command-line overrides; errors name the flags."""
    try:
        return _merge(args)
    except ConfigError as exc:
        raise ConfigError(_in_flags(str(exc), args)) from None


def _in_flags(message: str, args: argparse.Namespace) -> str:
    """Say `--arb-drift 5` where the message says `sandbox.arb_drift_every_ms=5` (flags given)."""
    given = {
        "--host": True, "--port": True, "--universe": args.universe is not None,
        "--weight-limit": args.weight_limit is not None, "--faults": bool(args.faults),
        "--arb-drift": args.arb_drift is not None,
        "--arb-drift-hold": args.arb_drift_hold is not None,
        "--arb-drift-edge": args.arb_drift_edge is not None,
    }  # fmt: skip
    for dest, name in _CONN_FLAGS:
        given[_FLAGS[f"sandbox.{name}"]] = getattr(args, dest, None) is not None
    for key, flag in _FLAGS.items():
        if given[flag]:
            message = re.sub(rf"{re.escape(key)}(=|: )", f"{flag} ", message)
    return message


def _merge(args: argparse.Namespace) -> SandboxConfig:
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
        config.faults.update(args.faults)
    if args.arb_drift is not None:
        config.arb_drift_every_ms = args.arb_drift
    if args.arb_drift_hold is not None:
        config.arb_drift_hold_ms = args.arb_drift_hold
    if args.arb_drift_edge is not None:
        config.arb_drift_edge_pct = args.arb_drift_edge
    config.apply_cli(args.replay, args.speed, args.log_requests)
    for dest, name in _CONN_FLAGS:
        if getattr(args, dest, None) is not None:
            setattr(config, name, getattr(args, dest))
    if config.arb_drift_every_ms and config.uses_demo_markets():
        config.universe_markets = DRIFT_UNIVERSE_MARKETS
    if config.uses_demo_markets():
        config.markets = [dict(m) for m in _demo_markets(args)]
        config.start_demo_walk()
    config.validate()
    return config


def _demo_markets(args: argparse.Namespace) -> list[dict[str, Any]]:
    if getattr(args, "dialect", "binance") == "kraken":
        from tradeguard.sandbox.kraken.demo import DEMO_MARKETS

        return DEMO_MARKETS
    return _DEMO_MARKETS


def demo_keys(path: Path, dialect: str = "binance") -> tuple[str, str, bool]:
    """Return (api key, secret, created): the pair stored at `path`, else a new one (saved by
    `save_demo_keys` once the sandbox is listening)."""
    if path.exists():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return str(doc["api_key"]), str(doc["secret"]), False
        except (ValueError, KeyError, TypeError, OSError, RecursionError):
            raise ConfigError(
                f"--keys-file {path} is not a sandbox keys file (a JSON object with api_key and "
                "secret); delete it to make a new pair, or pass another --keys-file"
            ) from None
    return secrets.token_hex(32), _new_secret(dialect), True


def _new_secret(dialect: str) -> str:
    if dialect == "kraken":
        from tradeguard.sandbox.kraken.demo import new_secret

        return new_secret()
    return secrets.token_hex(32)


def save_demo_keys(path: Path, api_key: str, secret: str) -> None:
    """Write the pair to `path` (0600), whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp makes it 0600
        json.dump({"api_key": api_key, "secret": secret}, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


async def serve(
    config: SandboxConfig,
    out: TextIO = sys.stdout,
    keys_file: Path | None = None,
    dialect: str = "binance",
) -> None:
    """Start the exchange, print its URLs and the demo key pair, serve until cancelled."""
    ex, balances = _exchange(config, dialect)
    if keys_file is None:
        api_key, secret, created = secrets.token_hex(32), _new_secret(dialect), True
    else:
        api_key, secret, created = demo_keys(keys_file, dialect)
    try:
        ex.add_account(api_key, secret, balances)
    except ValueError as exc:  # a Kraken secret that is not base64
        raise ConfigError(f"--keys-file {keys_file}: {exc}; delete it to make a new pair") from None
    await ex.start()  # a port it cannot bind ends here, before any file is written
    try:
        if keys_file is not None and created:
            save_demo_keys(keys_file, api_key, secret)
        if dialect == "kraken":
            from tradeguard.sandbox.kraken.demo import print_urls

            print_urls(ex.base_url, out)
        else:
            print(f"sandbox REST   {ex.rest_url}", file=out)
            print(f"sandbox WS     {ex.ws_url}", file=out)
            print(f"sandbox WS-API {ex.ws_api_url}", file=out)
            print(f"admin          {ex.base_url}/admin/faults", file=out)
        if ex.drift is not None:
            c = config
            _field(
                out,
                "arb drift",
                f"every {c.arb_drift_every_ms} ms one of {len(ex.drift.triangles)} triangles pays "
                f"{c.arb_drift_edge_pct}% beyond fees for up to {c.arb_drift_hold_ms} ms "
                f"(seed {c.seed})",
            )
        refill = f"every {config.house_refill_ms} ms" if config.house_refill_ms else "off"
        print(f"house refill   {refill} (sandbox.house_refill_ms)", file=out)
        for r in ex.replays:
            _field(out, "replay", f"{r.source.symbol} from {r.source.path} x{r.speed}")
            _field(
                out,
                "  time shift",
                f"{r.shift_ms} ms: recorded {_utc(r.bars[r.history].ts)} plays at "
                f"{_utc(r.start_ms)} (tradeguard calendar shift ... --sandbox {ex.base_url})",
            )
        print(f"demo api key   {api_key}", file=out)
        print(f"demo secret    {secret}", file=out)
        if keys_file is not None:
            state = "new pair saved to" if created else "same pair as before, from"
            _field(out, "demo keys", f"{state} {keys_file}; store them in the vault with")
            name = "sandbox-kraken" if dialect == "kraken" else "sandbox-main"
            # a shell continuation keeps the command whole when pasted, within 80 columns
            print(f"  tradeguard keys add {name} --venue {dialect} --stdin \\", file=out)
            print(f"    < {keys_file}", file=out)
        out.flush()
        await asyncio.Event().wait()
    finally:
        await ex.stop()


def _exchange(config: SandboxConfig, dialect: str) -> tuple[SandboxExchange, dict[str, Decimal]]:
    if dialect == "kraken":
        from tradeguard.sandbox.kraken.demo import DEMO_BALANCES as KRAKEN_BALANCES
        from tradeguard.sandbox.kraken.server import KrakenSandbox

        return KrakenSandbox(config), dict(KRAKEN_BALANCES)
    return SandboxExchange(config), dict(DEMO_BALANCES)


def _field(out: TextIO, label: str, value: str) -> None:
    """Print one banner field, its value folded at 80 columns under itself (a long path or URL
    stays whole on a line of its own)."""
    lines = textwrap.wrap(value, 80 - _LABEL, break_long_words=False, break_on_hyphens=False)
    for i, line in enumerate(lines or [""]):
        print(f"{label if i == 0 else '':<{_LABEL}}{line}", file=out)


_LABEL = 15  # "sandbox WS-API " and every label after it


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_sandbox_command(args: argparse.Namespace) -> int:
    """Entry point for `tradeguard sandbox`."""
    for flag, path in (("--keys-file", args.keys_file), ("--log-requests", args.log_requests)):
        if path is not None and Path(path).is_dir():
            raise ConfigError(f"{flag} {path} is a folder; give the path of a file in it")
    if args.dialect not in ("binance", "kraken"):
        return _run_prediction_sandbox(args)
    config = build_config(args)
    keys_file = args.keys_file
    if args.dialect != "binance" and keys_file == Path(DEFAULT_KEYS_FILE):
        keys_file = Path(f"tradeguard-{args.dialect}-keys.json")
    # a Ctrl-C is said and answered 130 as for every command (cli.main)
    asyncio.run(serve(config, keys_file=keys_file, dialect=args.dialect))
    return 0


def _run_prediction_sandbox(args: argparse.Namespace) -> int:
    from tradeguard.sandbox.pm_serve import serve_pm

    keys_file = args.keys_file
    if keys_file == Path(DEFAULT_KEYS_FILE):
        keys_file = Path(f"tradeguard-{args.dialect}-keys.json")
    limits = build_config(args).conn_limits()  # the flags and --config, checked alike
    try:
        asyncio.run(
            serve_pm(
                args.dialect, args.host, args.port, keys_file, scenario=args.scenario,
                limits=limits,
            )
        )  # fmt: skip
    except ValueError as exc:  # a bad keys file or host: one line, no traceback
        print(f"tradeguard: {exc}", file=sys.stderr)
        return 2
    return 0
