"""Both prediction-market venues on the one order path: vault credentials, risk, journal, venue;
a node SIGKILLed between journal and send restarts and resolves the order by query."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rigs import killed_child
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.sandbox.pm_serve import (
    kalshi_demo,
    kalshi_keys,
    polymarket_demo,
    polymarket_keys,
)
from tradeguard.secrets import ScryptParams, Vault

PASSPHRASE = "correct horse battery staple 42"
KALSHI_YES = "KXFED-26DEC-T4.00:YES/USD"
POLY_YES = "fed-above-4pct-dec:YES/PUSD"


def node_config(tmp: Path, venue: dict) -> Config:
    return Config.model_validate({
        "mode": "sandbox",
        "node": {
            "database_url": f"sqlite:///{tmp / 'tg.db'}",
            "kill_sentinel": str(tmp / "tg.kill"),
            "valuation_asset": "USD",
        },
        "venues": [venue],
        "data": [],
        "strategies": [],
        "risk": {"min_order_notional_usd": "1", "price_band_pct": "10"},
    })  # fmt: skip


def vault_with(tmp: Path, monkeypatch, name: str, venue: str, fields: dict[str, str]) -> None:
    vault = Vault(tmp / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add(name, venue, fields)
    vault.lock()
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp / "vault.json"))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)


async def kill_between_journal_and_send(tmp: Path, cfg: Config, venue: str, symbol: str) -> str:
    child = Path(__file__).with_name("pm_crash_child.py")
    docs = await killed_child(child, tmp, cfg, venue, symbol, "0.43", timeout_s=60)
    return str(docs[-1]["journaled"])


@pytest.mark.parametrize("dialect", ["kalshi", "polymarket"])
async def test_order_journaled_then_killed_before_send_is_rejected_by_query_after_restart(
    tmp_path: Path, monkeypatch, dialect: str
):
    if dialect == "kalshi":
        keys = kalshi_keys(None)
        server = kalshi_demo(keys)
        symbol = KALSHI_YES
    else:
        keys = polymarket_keys(None)
        server = polymarket_demo(keys)
        symbol = POLY_YES
    await server.start()
    try:
        url = server.rest_url if dialect == "kalshi" else server.url
        venue = {"name": dialect, "kind": dialect, "credentials": "demo", "rest_url": url}
        if dialect == "kalshi":
            venue["ws_url"] = server.ws_url
        fields = {k: v for k, v in keys.items() if k != "address"}
        vault_with(tmp_path, monkeypatch, "demo", dialect, fields)
        cfg = node_config(tmp_path, venue)

        cid = await kill_between_journal_and_send(tmp_path, cfg, dialect, symbol)

        node = TradingNode(cfg)
        node.orders.not_found_grace_ms = 0  # the restart comes after the venue's queueing grace
        await node.start()
        try:
            order = node.orders.orders[cid]
            assert order.status is OrderStatus.REJECTED
            assert order.reason == "venue has no record of the order"
            # and the path is open again: a new order goes risk -> journal -> venue -> fill
            await node.on_quote(await node.venues[dialect].fetch_quote(symbol))
            result = await node.submit(
                OrderIntent("s1", dialect, symbol, Side.BUY, Decimal(10), OrderType.LIMIT,
                            Decimal("0.46"))
            )  # fmt: skip
            assert result.status == "submitted", result
            assert result.order is not None and result.order.status is OrderStatus.FILLED
            assert node.portfolio.book(dialect).total(symbol.split("/")[0]) == 10
        finally:
            await node.stop()
    finally:
        await server.stop()
