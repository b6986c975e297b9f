"""`tradeguard backup` and `tradeguard restore`: encrypted, consistent copies of the journal.

    tradeguard backup [--config FILE] [--db URL] [--vault PATH] --out PATH
    tradeguard restore --in PATH --db URL [--config FILE] [--vault-out PATH] [--force]

The passphrase comes from TG_BACKUP_PASSPHRASE or a prompt without echo. A backup may be taken
while a node runs; a restore takes the node's writer lock, so it refuses while one runs, and
ends with the ledger audit of `tradeguard doctor` (exit 1 when the ledger does not add up).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeguard.cli.common import EXIT_ERROR, EXIT_OK, config_from_args
from tradeguard.model.errors import ConfigError

if TYPE_CHECKING:
    from tradeguard.secrets.backup_file import BackupInfo, BackupReader


def add_backup_parsers(sub: Any) -> None:
    """Register `tradeguard backup` and `tradeguard restore`."""
    sp = sub.add_parser(
        "backup",
        help="write an encrypted, consistent backup of the database and the vault",
        epilog="example: tradeguard backup --config paper.toml --out backups/tg-2026-01-31.tgb "
        "(passphrase from TG_BACKUP_PASSPHRASE, else a prompt)",
    )
    sp.add_argument("--config", help="TOML config file (default: built-in paper config)")
    sp.add_argument("--db", help="database URL (overrides node.database_url)")
    sp.add_argument(
        "--vault",
        help="vault file to include (default: TG_VAULT_PATH, else ./tradeguard-vault.json "
        "when it exists)",
    )
    sp.add_argument("--out", required=True, help="backup file to write (replaced atomically)")
    sp.set_defaults(func=cmd_backup)
    rp = sub.add_parser(
        "restore",
        help="restore a backup into a database, then audit the ledger",
        epilog="example: tradeguard restore --in backups/tg.tgb --db sqlite:///restored.db",
    )
    rp.add_argument("--in", dest="input", required=True, help="backup file to read")
    rp.add_argument("--db", required=True, help="database URL to restore into")
    rp.add_argument("--config", help="TOML config for the audit's paper start balances")
    rp.add_argument("--vault-out", help="where to write the backed-up vault file")
    rp.add_argument(
        "--force", action="store_true", help="replace a database (and vault file) that has data"
    )
    rp.set_defaults(func=cmd_restore)


def cmd_backup(args: argparse.Namespace) -> int:
    """Snapshot the database (and vault), encrypt, and write the backup file atomically."""
    from tradeguard.node.backups import write_backup
    from tradeguard.secrets.backup_file import PASSPHRASE_ENV
    from tradeguard.secrets.vault import read_passphrase
    from tradeguard.storage.db import mask_url

    config = config_from_args(args)
    if not args.out or Path(args.out).is_dir():  # '' is the current folder
        what = "is empty (an unset variable?)" if not args.out else "is a directory"
        raise ConfigError(f"--out {args.out!r} {what}; give a file name such as db.tgb")
    folder = Path(args.out).parent
    if not folder.is_dir():  # a mistyped folder is refused, not created
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(
            f"--out {args.out!r}: its folder {str(folder)!r} {what}; create it first "
            "(mkdir -p) or give a path in an existing folder"
        )
    vault = _vault_to_include(args.vault)
    passphrase = read_passphrase(env_var=PASSPHRASE_ENV, label="backup passphrase", confirm=True)
    done = write_backup(config.node.database_url, Path(args.out), passphrase, vault)
    held = f"database {mask_url(config.node.database_url)} ({done.dialect}, schema "
    held += f"{done.revision})" + (f" and vault {vault}" if vault else ", no vault")
    print(f"backup {done.path}: {done.size:,} bytes, encrypted; holds {held}")
    return EXIT_OK


def _vault_to_include(given: str | None) -> Path | None:
    from tradeguard.secrets.vault import VAULT_PATH_ENV, default_vault_path

    named = given or os.environ.get(VAULT_PATH_ENV)
    path = Path(given).expanduser() if given else default_vault_path()  # its ~ the home
    if path.is_file():
        return path
    if named:
        raise ConfigError(
            f"vault {path} (from {'--vault' if given else VAULT_PATH_ENV}) does not exist; "
            "give the right path, or unset it to back up the database alone"
        )
    return None


def cmd_restore(args: argparse.Namespace) -> int:
    """Decrypt a backup into a database (under its writer lock) and audit the ledger.

    The backup is read once: its header first (a damaged file fails before the prompt), then
    its contents, decrypted a chunk at a time into a private temporary file beside the target
    database. Only when every byte is authenticated and checked is the target touched."""
    from tradeguard.secrets.backup_file import BackupReader

    # A folder is a bad argument (exit 2), as `backup --out` says; a BackupFileError (exit 1)
    # says which way the file, or the passphrase, is wrong.
    if not args.input or Path(args.input).is_dir():
        what = "is empty (an unset variable?)" if not args.input else "is a directory"
        raise ConfigError(
            f"--in {args.input!r} {what}; give the backup file, such as backups/tg.tgb"
        )
    with BackupReader(Path(args.input)) as reader:
        return _restore_from(args, reader)


def _restore_from(args: argparse.Namespace, reader: BackupReader) -> int:
    from tradeguard.secrets.backup_file import DATABASE_PART, PASSPHRASE_ENV, VAULT_PART
    from tradeguard.secrets.vault import read_passphrase
    from tradeguard.storage.scratch import remove_orphans, remove_scratch

    info = reader.info
    _check_revision(args.input, info.schema_head)
    passphrase = read_passphrase(env_var=PASSPHRASE_ENV, label="backup passphrase")
    vault_out = _vault_target(args, info.part(VAULT_PART) is not None)
    folder = _scratch_folder(args.db)
    remove_orphans(folder)  # what restores killed midway left behind
    image = _new_image(folder)
    try:
        vault = io.BytesIO()
        with image.open("r+b") as fh:
            reader.extract(passphrase, {DATABASE_PART: fh, VAULT_PART: vault})
        database = info.part(DATABASE_PART)
        _check_image(image, database.size if database else 0)
        counts, audit = _locked_restore(args, image)
    finally:
        remove_scratch(image)
    if vault_out is not None:
        from tradeguard.secrets.atomic import write_atomic

        try:
            write_atomic(vault_out, vault.getvalue())
        except OSError as exc:
            raise ConfigError(
                f"the database was restored, but the vault cannot be written to {vault_out}: "
                f"{exc.strerror or exc}; restore again with --force and another --vault-out"
            ) from None
    _report(info, counts, vault_out, audit)
    return EXIT_OK if audit.ok else EXIT_ERROR


def _scratch_folder(db_url: str) -> Path:
    """Where a restore decrypts the backed-up database: beside a SQLite target, else the
    system's temporary folder (TMPDIR)."""
    from tradeguard.storage.db import normalize_url

    parsed = normalize_url(db_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database or "").expanduser().absolute().parent
    else:
        folder = Path(tempfile.gettempdir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create folder {folder} for --db: {exc.strerror}") from None
    return folder


def _new_image(folder: Path) -> Path:
    from tradeguard.storage.errors import StorageError
    from tradeguard.storage.scratch import new_scratch_file

    try:
        return new_scratch_file(folder, "tradeguard-restore")
    except OSError as exc:
        raise StorageError(
            f"cannot restore: cannot create the temporary copy of the database in {folder} "
            f"(beside a SQLite target, else TMPDIR): {exc.strerror or exc}"
        ) from None


def _check_image(image: Path, size: int) -> None:
    """Refuse to restore from `image` unless it is still the file the backup was decrypted
    into, whole: never a file that replaced it, or one SQLite would create empty."""
    from tradeguard.storage.errors import StorageError
    from tradeguard.storage.scratch import held_inode

    try:
        found = image.stat()
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        if found.st_ino != held_inode(image):
            reason = "another file is under its name"
        elif found.st_size != size:
            reason = f"it is {found.st_size:,} bytes, the backup's database {size:,}"
        else:
            return
    raise StorageError(
        f"cannot restore: the decrypted copy {image} was removed or replaced by another process "
        f"({reason}); nothing was changed"
    )


def _locked_restore(args: argparse.Namespace, image: Path) -> tuple[dict[str, int], Any]:
    from tradeguard.storage.lock import acquire_writer_lock

    lock = acquire_writer_lock(args.db)
    try:
        return _restore_and_audit(args, image)
    finally:
        if lock is not None:
            lock.release()


def _report(info: BackupInfo, counts: dict[str, int], vault_out: Path | None, audit: Any) -> None:
    from tradeguard.cli.doctor import render

    created = datetime.fromtimestamp(info.created_ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    rows = sum(counts.values())
    print(
        f"restored backup of {created} UTC ({info.dialect}, schema {info.schema_head}): "
        f"{rows:,} rows in {len(counts)} tables"
        + (f"; vault written to {vault_out}" if vault_out else "")
    )
    print("\n".join(render(audit)))


def _check_revision(path: str, revision: str) -> None:
    from tradeguard.secrets.backup_file import BackupFileError
    from tradeguard.storage.db import SCHEMA_HEAD
    from tradeguard.storage.snapshot import known_revision

    if not known_revision(revision):
        raise BackupFileError(
            f"backup {path} is at schema revision {revision!r}, newer than this tradeguard "
            f"(head {SCHEMA_HEAD!r}): restore it with a tradeguard at least as new as the one "
            "that wrote it"
        )


def _vault_target(args: argparse.Namespace, has_vault: bool) -> Path | None:
    if args.vault_out is None:
        if has_vault:
            print(
                "note: the backup holds a vault file; give --vault-out PATH to restore it",
                file=sys.stderr,
            )
        return None
    if not has_vault:
        raise ConfigError(f"backup {args.input} holds no vault file; drop --vault-out")
    path = Path(args.vault_out)
    if path.exists() and not args.force:
        raise ConfigError(f"vault {path} exists; give --force to replace it, or another path")
    _check_vault_out(path)
    return path


def _check_vault_out(path: Path) -> None:
    """Make sure the vault can be written at `path` before the database is touched."""
    if path.is_dir():
        raise ConfigError(f"--vault-out {path} is a folder; give the path of the vault file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"--vault-out {path}: cannot create its folder {path.parent}: {exc.strerror or exc}"
        ) from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--vault-out {path}: its folder {path.parent} is not writable")


def _restore_and_audit(args: argparse.Namespace, image: Path) -> tuple[dict[str, int], Any]:
    from tradeguard.cli.doctor import audit_database
    from tradeguard.storage.db import Database
    from tradeguard.storage.errors import StorageError
    from tradeguard.storage.repository import Storage
    from tradeguard.storage.snapshot import database_has_rows, restore_image

    config = config_from_args(args)
    target = Database(args.db)
    try:
        if database_has_rows(target) and not args.force:
            raise StorageError(
                f"database {target.masked_url} already holds data; restoring would replace "
                "it: give --force to replace it, or restore into an empty database"
            )
        counts = restore_image(image, target, replace=args.force)
        return counts, audit_database(Storage(target), config)
    finally:
        target.dispose()
