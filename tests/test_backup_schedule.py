"""Scheduled backups: the passphrase is required up front, rotation keeps the newest, the live
loop writes them while trading, and each one restores with a clean audit."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from live_support import btc_slice, replaying_sandbox, sandbox_config, write_vault
from node_support import write_paper_toml, write_slice
from tradeguard.cli import main
from tradeguard.config import NodeConfig
from tradeguard.model.errors import ConfigError
from tradeguard.node import TradingNode
from tradeguard.node.backups import ScheduledBackups
from tradeguard.sandbox.testing import eventually
from tradeguard.secrets.backup_file import PASSPHRASE_ENV, open_backup
from tradeguard.storage import Database
from tradeguard.storage.snapshot import restore_image, table_rows

PASS = "correct horse battery staple"


def _node(tmp_path: Path, url: str, keep: int = 2) -> NodeConfig:
    return NodeConfig(database_url=url, backup_interval_s=60, backup_dir=str(tmp_path / "bk"),
                      backup_keep=keep)  # fmt: skip


def test_scheduled_backups_refuse_to_start_without_the_passphrase(tmp_path):
    with pytest.raises(ConfigError, match=f"needs {PASSPHRASE_ENV}"):
        ScheduledBackups(_node(tmp_path, "sqlite:///x.db"), env={})


def test_an_interval_below_a_minute_is_refused():
    with pytest.raises(ValidationError, match="at least 60 seconds"):
        NodeConfig(backup_interval_s=5)
    assert NodeConfig(backup_interval_s=0).backup_interval_s == 0


def test_rotation_keeps_the_newest_and_leaves_other_files(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 500)
    cfg = write_paper_toml(tmp_path, data)
    assert main(["run", "--config", str(cfg), "--until-end"]) == 0
    backups = ScheduledBackups(
        _node(tmp_path, f"sqlite:///{tmp_path / 'tg.db'}"), env={PASSPHRASE_ENV: PASS}
    )
    backups.folder.mkdir()
    (backups.folder / "hand-made.tgb").write_text("mine")
    written = [backups.once() for _ in range(4)]
    assert all(written)
    left = sorted(p.name for p in backups.folder.iterdir())
    assert left == sorted(["hand-made.tgb", written[2].name, written[3].name])  # type: ignore[union-attr]
    _, parts = open_backup(written[3], PASS)  # type: ignore[arg-type]
    assert parts["database"].startswith(b"SQLite format 3\x00")


def test_a_failed_scheduled_backup_is_logged_and_trading_goes_on(tmp_path, caplog):
    backups = ScheduledBackups(
        _node(tmp_path, f"sqlite:///{tmp_path / 'missing.db'}"), env={PASSPHRASE_ENV: PASS}
    )
    with caplog.at_level(logging.ERROR):
        assert backups.once() is None
    assert "scheduled backup" in caplog.text and "missing.db" in caplog.text


async def test_the_live_loop_writes_rotated_backups_that_restore(tmp_path, monkeypatch):
    write_vault(tmp_path, monkeypatch)
    monkeypatch.setenv(PASSPHRASE_ENV, PASS)
    monkeypatch.setattr("tradeguard.config.MIN_BACKUP_INTERVAL_S", 0)  # seconds, not hours
    data = btc_slice(tmp_path, 400)
    folder = tmp_path / "bk"
    async with replaying_sandbox(data, speed=600, history=100) as ex:
        strategy = {
            "id": "ma", "kind": "ma_crossover", "venue": "binance", "symbol": "BTC/USDT",
            "params": {"fast": 2, "slow": 5, "order_usd": "100", "stop_loss_pct": "0",
                       "take_profit_pct": "0"},
        }  # fmt: skip
        config = sandbox_config(tmp_path, ex, [strategy], backup_interval_s=0.3,
                                backup_dir=str(folder), backup_keep=2)  # fmt: skip
        node = TradingNode(config)
        await node.start()
        run = asyncio.create_task(node.run_live(duration_s=60))
        try:
            await eventually(lambda: node.storage.count_orders() >= 2, timeout_s=40)
            stamps: set[str] = set()

            def rotated() -> bool:
                stamps.update(p.name for p in folder.glob("tradeguard-*.tgb"))
                return len(stamps) >= 4

            await eventually(rotated, timeout_s=40)
        finally:
            node.request_stop()
            await run
            await node.stop()
    kept = sorted(folder.glob("tradeguard-*.tgb"))
    assert len(kept) == 2 and [p.name for p in kept] == sorted(stamps)[-2:]
    _, parts = open_backup(kept[-1], PASS)
    assert sorted(parts) == ["database", "vault"]
    # An exchange venue's stored balances are its last report, which may trail a fill by a
    # moment, so mid-run the audit can differ (as `doctor` would on the live file); the journal
    # itself must come back: every restored fill and order is one the node wrote.
    restored = Database(f"sqlite:///{tmp_path / 'restored.db'}")
    image = tmp_path / "image.db"
    image.write_bytes(parts["database"])
    restore_image(image, restored, replace=False)
    source = Database(config.node.database_url)
    try:
        got, have = table_rows(restored), table_rows(source)
        assert got["orders"] and got["fills"]
        for table in ("fills", "orders"):
            keys = {tuple(r.values())[:1] for r in have[table]}
            assert {tuple(r.values())[:1] for r in got[table]} <= keys
        assert have["fills"][: len(got["fills"])] == got["fills"]  # append-only: a prefix
    finally:
        restored.dispose()
        source.dispose()


def test_rotation_sweeps_temp_files_a_killed_backup_left_an_hour_ago(tmp_path):
    backups = ScheduledBackups(
        _node(tmp_path, f"sqlite:///{tmp_path / 'tg.db'}"), env={PASSPHRASE_ENV: PASS}
    )
    backups.folder.mkdir()
    old = backups.folder / ".tradeguard-20260101T000000000000Z.tgb.abc123.tmp"
    fresh = backups.folder / ".tradeguard-20260101T010000000000Z.tgb.def456.tmp"
    other = backups.folder / ".someone-else.tmp"
    for path in (old, fresh, other):
        path.write_bytes(b"ciphertext")
    now = fresh.stat().st_mtime + 60
    os.utime(old, (now - 7200, now - 7200))  # two hours old: its backup died
    os.utime(other, (now - 7200, now - 7200))
    assert backups.rotate(now=now) == [old]
    assert sorted(p.name for p in backups.folder.iterdir()) == sorted([fresh.name, other.name])
