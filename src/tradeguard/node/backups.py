"""Writing an encrypted backup, once (`tradeguard backup`) or on a schedule in the live loop."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tradeguard.model.errors import ConfigError
from tradeguard.secrets.backup_file import (
    DATABASE_PART,
    PASSPHRASE_ENV,
    VAULT_PART,
    BackupFileError,
    write_backup_file,
)
from tradeguard.secrets.vault import check_passphrase, default_vault_path
from tradeguard.storage.scratch import remove_orphans
from tradeguard.storage.snapshot import taken_snapshot

if TYPE_CHECKING:
    from tradeguard.config import NodeConfig

log = logging.getLogger(__name__)

SCHEDULED_PREFIX, SUFFIX = "tradeguard-", ".tgb"
_TEMP_MAX_AGE_S = 3600.0  # a temp file older than this belongs to a backup that died


@dataclass(frozen=True, slots=True)
class Written:
    """A backup just written: where, how large, and what it holds."""

    path: Path
    size: int
    dialect: str
    revision: str
    vault: Path | None


def write_backup(database_url: str, out: Path, passphrase: str, vault: Path | None) -> Written:
    """Snapshot the database (and `vault`), encrypt, and write `out` atomically.

    The snapshot is a private temporary file (beside a SQLite database, see `taken_snapshot`),
    encrypted from there a chunk at a time: memory stays bounded whatever the database's size."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(out.parent)  # what backups killed while copying left behind
    except OSError as exc:
        raise BackupFileError(f"cannot write backup {out}: {exc.strerror or exc}") from None
    with taken_snapshot(database_url, out.name) as snapshot, ExitStack() as stack:
        parts: list[tuple[str, IO[bytes]]] = [(DATABASE_PART, snapshot.file)]
        if vault is not None:
            try:
                parts.append((VAULT_PART, stack.enter_context(vault.open("rb"))))
            except OSError as exc:
                raise BackupFileError(f"cannot read vault {vault}: {exc.strerror}") from None
        size = write_backup_file(
            out,
            parts,
            passphrase=passphrase,
            created_ts=int(time.time() * 1000),
            schema_head=snapshot.revision,
            dialect=snapshot.dialect,
        )
    return Written(out, size, snapshot.dialect, snapshot.revision, vault)


class ScheduledBackups:
    """Every `backup_interval_s`, a backup into `backup_dir`, keeping the newest `backup_keep`."""

    def __init__(self, node: NodeConfig, env: dict[str, str] | None = None) -> None:
        source = dict(os.environ if env is None else env)
        passphrase = source.get(PASSPHRASE_ENV, "")
        if not passphrase:
            raise ConfigError(
                f"node.backup_interval_s = {node.backup_interval_s:g} needs {PASSPHRASE_ENV} "
                "set for the node (it cannot prompt while trading); set it, or "
                "node.backup_interval_s = 0 to turn scheduled backups off"
            )
        check_passphrase(passphrase, f"backup passphrase ({PASSPHRASE_ENV})")
        self._passphrase = passphrase
        self._url = node.database_url
        self._interval_s = node.backup_interval_s
        self.folder = Path(node.backup_dir).expanduser()
        self._keep = node.backup_keep
        vault = default_vault_path(source)
        self._vault = vault if vault.is_file() else None

    async def run(self) -> None:
        """Back up every interval, the first one interval after the start, until cancelled."""
        while True:
            await asyncio.sleep(self._interval_s)
            await asyncio.to_thread(self.once)

    def once(self) -> Path | None:
        """Write one backup and rotate; a failure is logged, and trading goes on."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        out = self.folder / f"{SCHEDULED_PREFIX}{stamp}{SUFFIX}"
        try:
            written = write_backup(self._url, out, self._passphrase, self._vault)
        except Exception as exc:  # a full disk must not stop the node
            log.error("scheduled backup to %s failed: %s", out, exc)
            return None
        log.info("scheduled backup %s written (%d bytes)", out, written.size)
        self.rotate()
        return out

    def rotate(self, now: float | None = None) -> list[Path]:
        """Delete the oldest scheduled backups beyond `backup_keep`, and temp files a killed
        backup left more than an hour ago; return what was deleted."""
        # The timestamp in the name sorts by time; other files in the folder are left alone.
        ours = sorted(self.folder.glob(f"{SCHEDULED_PREFIX}*{SUFFIX}"))
        stale = ours[: max(0, len(ours) - self._keep)]
        cutoff = (time.time() if now is None else now) - _TEMP_MAX_AGE_S
        for tmp in self.folder.glob(f".{SCHEDULED_PREFIX}*{SUFFIX}.*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:  # ciphertext only, but it takes disk
                    stale.append(tmp)
            except FileNotFoundError:
                continue
        for path in stale:
            path.unlink(missing_ok=True)
        return stale
