"""`tradeguard sandbox --dialect kalshi|polymarket --keys-file FILE` as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

from tradeguard.clock import Clock
from tradeguard.venues.kalshi.venue import KalshiVenue
from tradeguard.venues.polymarket.venue import PolymarketVenue


async def start_cli(dialect: str, keys: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeguard.cli", "sandbox", "--dialect", dialect,
        "--port", "0", "--keys-file", str(keys),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith(dialect), line
    return proc, line.split()[-1]


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 10)


async def kalshi_cash(url: str, keys: dict[str, str]) -> Decimal:
    venue = KalshiVenue("kalshi", url, keys["key_id"], keys["private_key_pem"], Clock())
    try:
        await venue.connect()
        assert "KXFED-26DEC-T4.00:YES/USD" in venue.instruments
        return {b.asset: b.total for b in await venue.fetch_balances()}["USD"]
    finally:
        await venue.close()


async def test_kalshi_dialect_writes_the_keys_file_and_reuses_it(tmp_path: Path):
    keys_file = tmp_path / "kalshi-keys.json"
    proc, url = await start_cli("kalshi", keys_file)
    try:
        keys = json.loads(keys_file.read_text())
        assert keys["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
        assert keys_file.stat().st_mode & 0o077 == 0
        assert await kalshi_cash(url, keys) == Decimal("10000")
    finally:
        await stop(proc)
    proc, url = await start_cli("kalshi", keys_file)
    try:
        assert json.loads(keys_file.read_text()) == keys
        assert await kalshi_cash(url, keys) == Decimal("10000")
    finally:
        await stop(proc)


async def test_polymarket_dialect_funds_the_wallet_in_the_keys_file(tmp_path: Path):
    keys_file = tmp_path / "pm-keys.json"
    proc, url = await start_cli("polymarket", keys_file)
    try:
        keys = json.loads(keys_file.read_text())
        assert set(keys) == {"private_key", "address"}
        venue = PolymarketVenue("polymarket", url, keys["private_key"], Clock())
        await venue.connect()
        try:
            assert "fed-above-4pct-dec:YES/PUSD" in venue.instruments
            assert {b.asset: b.total for b in await venue.fetch_balances()} == {
                "PUSD": Decimal("10000")
            }
        finally:
            await venue.close()
    finally:
        await stop(proc)


async def test_a_broken_keys_file_is_one_line_naming_the_field(tmp_path: Path):
    keys_file = tmp_path / "k.json"
    keys_file.write_text(json.dumps({"key_id": "abc"}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeguard.cli", "sandbox", "--dialect", "kalshi",
        "--port", "0", "--keys-file", str(keys_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert err.decode().strip() == (
        f"tradeguard: keys file {keys_file}: field 'private_key_pem' is missing or empty"
    )


async def test_pm_markets_lists_outcomes_with_books_from_the_vault_configured_venue(
    tmp_path: Path,
):
    from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys
    from tradeguard.secrets import ScryptParams, Vault

    keys = kalshi_keys(None)
    server = kalshi_demo(keys)
    await server.start()
    try:
        vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
        vault.create("correct horse battery staple 42")
        vault.add("kalshi-demo", "kalshi", keys)
        vault.lock()
        config = tmp_path / "tg.toml"
        config.write_text(
            f'mode = "sandbox"\n[[venues]]\nname = "kalshi"\nkind = "kalshi"\n'
            f'credentials = "kalshi-demo"\nrest_url = "{server.rest_url}"\n'
        )
        env = {
            **os.environ,
            "TG_VAULT_PATH": str(tmp_path / "vault.json"),
            "TG_MASTER_PASSPHRASE": "correct horse battery staple 42",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tradeguard.cli", "pm", "markets", "--venue", "kalshi",
            "--config", str(config), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        lines = {ln.split()[0]: ln.split()[1:] for ln in out.decode().splitlines()[1:]}
        assert lines["KXFED-26DEC-T4.00"] == ["0.4400", "0.4600", "0.5400", "0.5600"]
        assert len(lines) == 4  # the four demo events listed on Kalshi
        assert keys["private_key_pem"].splitlines()[1] not in out.decode() + err.decode()
    finally:
        await server.stop()
