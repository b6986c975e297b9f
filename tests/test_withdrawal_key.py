"""A venue key that can withdraw funds: a critical venue error at start (so alerts carry it),
and no live start unless the venue's config accepts it by name (real ccxt, sandbox venue)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from native_exits_support import PASSPHRASE, native_config
from tradeguard.config import Config
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import EventKind
from tradeguard.node import TradingNode
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import seeded_exchange
from tradeguard.secrets.vault import ScryptParams, Vault


@pytest.fixture
def carol_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create(PASSPHRASE)
    vault.add("carol", "binance", {"api_key": "carol-key-0001", "secret": "carol-secret-0001"})
    vault.lock()
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "vault.json"))
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", PASSPHRASE)


def _config(tmp_path: Path, ex: SandboxExchange, mode: str, **venue: object) -> Config:
    doc = native_config(tmp_path, ex.rest_url, ex.ws_url, native=False).model_dump(mode="json")
    doc["mode"] = mode
    doc["venues"][0].update({"credentials": "carol", **venue})
    return Config.model_validate(doc)


@pytest.mark.usefixtures("carol_vault")
async def test_a_withdrawal_key_is_a_critical_venue_error_and_stops_a_live_start(tmp_path):
    ex = seeded_exchange()
    ex.add_account("carol-key-0001", "carol-secret-0001", {"USDT": Decimal(10)}, can_withdraw=True)
    async with ex:
        node = TradingNode(_config(tmp_path, ex, "sandbox"))
        try:
            await node.start()  # rehearsal: warned, not stopped
            node.flush_audit()
            events = node.storage.load_events(kind_prefix=EventKind.VENUE_ERROR)
        finally:
            await node.stop()
            node.close()
        assert [(e.severity, e.venue, e.data["op"]) for e in events] == [
            ("critical", "binance", "api_key_permissions")
        ]
        assert "WITHDRAWAL permission" in events[0].data["error"]

        live = TradingNode(_config(tmp_path / "live", ex, "live"))
        try:
            with pytest.raises(
                ConfigError,
                match=r"venue binance: refusing to trade live with "
                r"an API key that can withdraw funds .* set allow_withdrawal_key",
            ):
                await live.start()
        finally:
            await live.stop()
            live.close()

        accepted = TradingNode(_config(tmp_path / "ok", ex, "live", allow_withdrawal_key=True))
        try:
            await accepted.start()
            assert accepted.reconcile_report is not None
        finally:
            await accepted.stop()
            accepted.close()
