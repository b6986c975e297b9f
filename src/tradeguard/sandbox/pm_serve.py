"""`tradeguard sandbox --dialect kalshi|polymarket`: a seeded demo universe and its keys file.

Some events are listed on both venues (same question, different tickers) so cross-venue
strategies have something to compare. The keys file holds the funded demo account's
credentials and is reused on the next start, so a vault entry made from it stays valid.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tradeguard.model.recursion import kept_recursion_limit

with kept_recursion_limit():  # eth_account loads py_ecc, which raises it
    from eth_account import Account

from tradeguard.sandbox.conn_guard import ConnLimits
from tradeguard.sandbox.kalshi.server import KalshiExchange
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.polymarket.server import PolymarketExchange

DEMO_CASH = Decimal("10000")

# (kalshi ticker or None, polymarket slug or None, question, YES bid, YES ask)
DEMO_EVENTS: list[tuple[str | None, str | None, str, str, str]] = [
    ("KXFED-26DEC-T4.00", "fed-above-4pct-dec", "Fed funds above 4% in December?", "0.44", "0.46"),
    ("KXBTC-26DEC-T100K", "btc-above-100k-dec", "Bitcoin above $100k on Dec 31?", "0.61", "0.63"),
    ("KXRAIN-NYC-MON", "nyc-rain-monday", "Rain in New York on Monday?", "0.30", "0.33"),
    ("KXCPI-26NOV-T3.0", None, "November CPI above 3.0%?", "0.52", "0.55"),
    (None, "oscars-best-picture-x", "Film X wins Best Picture?", "0.12", "0.14"),
]  # fmt: skip
DEPTH = "500"


class KeysFileError(ValueError):
    """The keys file exists but cannot be used; the message names the file and the field."""


def _write_private(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)


def _read_keys(path: Path, needed: tuple[str, ...]) -> dict[str, str] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        raise KeysFileError(f"keys file {path}: not JSON; delete it to make new keys") from None
    for name in needed:
        if not isinstance(data.get(name), str) or not data[name]:
            raise KeysFileError(f"keys file {path}: field {name!r} is missing or empty")
    return {k: str(v) for k, v in data.items()}


def kalshi_keys(path: Path | None, save: bool = True) -> dict[str, str]:
    """Load the Kalshi demo key (key_id, private_key_pem) from `path`, or make one (saved
    there unless `save` is False)."""
    found = _read_keys(path, ("key_id", "private_key_pem")) if path else None
    if found is not None:
        return found
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    keys = {"key_id": hashlib.sha256(pem.encode()).hexdigest()[:32], "private_key_pem": pem}
    if path and save:
        _write_private(path, keys)
    return keys


def polymarket_keys(path: Path | None, save: bool = True) -> dict[str, str]:
    """Load the Polymarket demo wallet (private_key, address) from `path`, or make one (saved
    there unless `save` is False)."""
    found = _read_keys(path, ("private_key", "address")) if path else None
    if found is not None:
        return found
    wallet = Account.create()
    keys = {"private_key": "0x" + wallet.key.hex().removeprefix("0x"), "address": wallet.address}
    if path and save:
        _write_private(path, keys)
    return keys


def token_id(slug: str, outcome: str) -> str:
    return str(int.from_bytes(hashlib.sha256(f"{slug}:{outcome}".encode()).digest()[:16], "big"))


def kalshi_demo(keys: dict[str, str], host: str = "127.0.0.1", port: int = 0) -> KalshiExchange:
    """A Kalshi server with the demo events, house liquidity and the funded demo account."""
    ex = KalshiExchange(host, port)
    for ticker, _, question, bid, ask in DEMO_EVENTS:
        if ticker:
            ex.add_market(ticker, ticker.rsplit("-", 1)[0], question)
            ex.seed_book(ticker, [(bid, DEPTH)], [(ask, DEPTH)])
    key = serialization.load_pem_private_key(keys["private_key_pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    ex.add_account(key.public_key(), DEMO_CASH, key_id=keys["key_id"])
    return ex


def polymarket_demo(
    keys: dict[str, str], host: str = "127.0.0.1", port: int = 0
) -> PolymarketExchange:
    """A Polymarket CLOB with the demo events, house liquidity and the funded demo wallet."""
    ex = PolymarketExchange(host, port)
    for _, slug, _, bid, ask in DEMO_EVENTS:
        if slug:
            ex.add_market(
                slug, token_id(slug, "yes"), token_id(slug, "no"),
                fee_rate=Decimal("0.02"), fee_exponent=Decimal(1),
            )  # fmt: skip
            ex.seed_book(slug, [(bid, DEPTH)], [(ask, DEPTH)])
    ex.add_account(keys["address"], DEMO_CASH)
    return ex


async def serve_pm(
    dialect: str,
    host: str = "127.0.0.1",
    port: int = 0,
    keys_file: Path | None = None,
    out: TextIO = sys.stdout,
    ready: asyncio.Event | None = None,
    scenario: str = "",
    limits: ConnLimits | None = None,
) -> None:
    """Run the `dialect` server until cancelled, printing its URLs and where the keys are;
    each connection held to `limits` (default `ConnLimits()`)."""
    server: Any
    new = keys_file is not None and not keys_file.exists()
    if dialect == "kalshi":
        keys = kalshi_keys(keys_file, save=False)
        server = kalshi_demo(keys, host, port)
    elif dialect == "polymarket":
        keys = polymarket_keys(keys_file, save=False)
        server = polymarket_demo(keys, host, port)
    else:
        raise ValueError(f"dialect {dialect!r} is not one of binance, kalshi, polymarket")
    if limits is not None:
        server.limits = limits
    await server.start()  # a port it cannot bind ends here, before any file is written
    if new and keys_file is not None:
        _write_private(keys_file, keys)
    shown = start_scenario(dialect, server, scenario) if scenario else None
    try:
        if dialect == "kalshi":
            print(f"kalshi REST    {server.rest_url}", file=out)
            print(f"kalshi WS      {server.ws_url}", file=out)
            base = server.base_url
        else:
            print(f"polymarket     {server.url}", file=out)
            base = server.url
        print(f"admin          {base}/admin/resolve", file=out)
        if shown is not None:
            names = [(t if dialect == "kalshi" else m) for t, m, *_ in DEMO_EVENTS if t and m]
            print(f"scenario       {scenario} on {', '.join(names)}", file=out)
        where = f"in {keys_file}" if keys_file else "not saved (pass --keys-file FILE)"
        print(f"demo account   funded with {DEMO_CASH}; credentials {where}", file=out)
        out.flush()
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        if shown is not None:
            shown[1].cancel()
        await server.stop()


def paired_markets(dialect: str, server: Any) -> list[str]:
    """Return the server's market ids of the demo events listed on both venues."""
    if dialect == "kalshi":
        return [t for t, slug, *_ in DEMO_EVENTS if t and slug]
    by_slug = {m.slug: cid for cid, m in server.markets.items()}
    return [by_slug[slug] for t, slug, *_ in DEMO_EVENTS if t and slug]


def start_scenario(
    dialect: str, server: Any, scenario: str
) -> tuple[ArbScenario, asyncio.Task[None]]:
    """Start `scenario` (arb, arb-fail) on the server's paired markets; return it and its task."""
    shown = ArbScenario(
        server.book, paired_markets(dialect, server), ArbScenarioConfig.named(scenario)
    )
    return shown, asyncio.create_task(shown.run(), name=f"scenario:{scenario}")
