"""A whole sandbox session with vault credentials leaves no secret in logs, database or output."""

from __future__ import annotations

import logging
import secrets
import traceback
from decimal import Decimal
from pathlib import Path

import pytest

from test_ccxt_support import SYMBOL, VENUE, build_stack, raises
from tradeguard.cli import main
from tradeguard.clock import Clock
from tradeguard.config import VenueConfig
from tradeguard.execution.balance_sync import BalanceSync
from tradeguard.model import AmbiguousVenueError, OrderStatus, Side
from tradeguard.node.credentials import venue_credentials
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.secrets import ScryptParams, Vault, find_secrets, install_redaction, scan_paths
from tradeguard.venues.ccxt_venue import build_ccxt_venue

PASSPHRASE = "correct horse battery staple leak test"


async def test_whole_sandbox_session_leaks_no_secret(
    ex: SandboxExchange,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api_key = "tgkey" + secrets.token_hex(16)
    api_secret = "tgsec" + secrets.token_hex(20)
    ex.add_account(api_key, api_secret, {"USDT": Decimal(100000), "BTC": Decimal("0.05")})
    vault_path = tmp_path / "vault" / "vault.json"
    vault_path.parent.mkdir()
    vault = Vault(vault_path, kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add("sbx-keys", "binance", {"api_key": api_key, "secret": api_secret})
    vault.lock()
    watched = [api_key, api_secret, PASSPHRASE]
    env = {"TG_VAULT_PATH": str(vault_path), "TG_MASTER_PASSPHRASE": PASSPHRASE}

    install_redaction()
    log_file = tmp_path / "logs" / "session.log"
    log_file.parent.mkdir()
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)  # the patched addHandler attaches the redacting filter
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    try:
        vc = VenueConfig(name=VENUE, kind="ccxt", exchange="binance", credentials="sbx-keys",
                         sandbox=True, rest_url=ex.rest_url, ws_url=ex.ws_url)  # fmt: skip
        venue = build_ccxt_venue(vc, Clock(), credentials=venue_credentials(vc, env))
        stack = await build_stack(ex, db_dir, key=api_key, venue=venue)
        try:
            # orders: a resting limit order cancelled, a market fill, partial fills
            placed = await stack.submit(Side.BUY, "0.01", "49000")
            await stack.om.cancel(placed.order.client_order_id)
            market = await stack.submit(Side.BUY, "0.01")
            await eventually(lambda: market.order.status is OrderStatus.FILLED)
            ex.set_book(SYMBOL, bids=[], asks=[("50001", "1")])
            partial = await stack.submit(Side.BUY, "0.1", "49500")
            ex.trade_through(SYMBOL, "SELL", "49500", "0.04")
            ex.trade_through(SYMBOL, "SELL", "49500", "0.06")
            await eventually(lambda: partial.order.status is OrderStatus.FILLED)
            # forced errors: a definitive refusal, a lost answer, a 5xx, a stream drop
            refused = await stack.submit(Side.SELL, "0.19", "49600")
            errors.append(f"{refused.status} {refused.code} {refused.reason}")
            ex.faults.update({"drop_response_after_execute": 1})
            lost = await stack.submit(Side.BUY, "0.01", "49000")
            errors.append(f"{lost.status} {lost.code} {lost.reason}")
            ex.faults.update({"http_5xx_rate": 1.0})
            exc = await raises(stack.venue.fetch_balances(), AmbiguousVenueError)
            errors.extend([str(exc), repr(exc), "".join(traceback.format_exception(exc))])
            ex.faults.update({"http_5xx_rate": 0.0})
            ex.disconnect_websockets()
            await eventually(lambda: stack.venue.reconnects >= 1)
            sync = BalanceSync({VENUE: stack.venue}, stack.portfolio, stack.storage,
                               stack.bus, stack.clock)  # fmt: skip
            await sync.sync_once()
            stack.om.flush()
            errors.extend(repr(e) for e in stack.events)
        finally:
            await stack.close()
        db_url = f"sqlite:///{db_dir / 'tg.db'}"
        monkeypatch.setenv("TG_VAULT_PATH", str(vault_path))
        monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)
        capsys.readouterr()
        for argv in (
            ["orders", "--db", db_url, "--json"],
            ["balances", "--db", db_url, "--json"],
            ["keys", "list"],
        ):
            assert main(argv) == 0
        cli = capsys.readouterr()
    finally:
        root.removeHandler(handler)
        handler.close()

    # the session really happened and really used the vault's key
    assert market.order.client_order_id in cli.out
    assert "sbx-keys" in cli.out
    assert market.order.status is OrderStatus.FILLED
    assert any("INSUFFICIENT_FUNDS" in e for e in errors)
    assert any("X-MBX-APIKEY" in r.getMessage() for r in caplog.records)  # ccxt logged headers
    assert log_file.stat().st_size > 0

    assert find_secrets(caplog.text, watched) == []
    assert find_secrets("\n".join(r.getMessage() for r in caplog.records), watched) == []
    assert scan_paths([log_file.parent, db_dir], watched) == {}
    assert find_secrets("\n".join(errors), watched) == []
    assert find_secrets(cli.out + cli.err, watched) == []
