"""Private temporary SQLite files for backups and restores, and sweeping those a kill left.

A backup copies the database into such a file beside the backup it writes, and a restore
decrypts the backup into one beside the target database: memory stays bounded whatever the
database's size. Each file is created 0600 and named `.<stem>.plain-<pid>-<random>.tmp`; it is
removed when its work ends, however it ends. Only SIGKILL (or a power cut) can leave one
behind; `remove_orphans` deletes those whose process is gone, and every backup and restore
calls it on its folder first.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_MARK = ".plain-"
_ORPHAN = re.compile(r"^\..*\.plain-(\d+)-[^/]*\.tmp$")
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")


@contextmanager
def scratch_file(folder: Path, stem: str) -> Iterator[Path]:
    """Create an empty 0600 file in `folder` for a SQLite image; remove it (and any SQLite side
    file) when the block ends, however it ends."""
    path = new_scratch_file(folder, stem)
    try:
        yield path
    finally:
        remove_scratch(path)


def new_scratch_file(folder: Path, stem: str) -> Path:
    """Create an empty 0600 file in `folder` named for `stem` and this process; the caller
    removes it (`remove_scratch`)."""
    fd, name = tempfile.mkstemp(
        prefix=f".{stem.lstrip('.')}{_MARK}{os.getpid()}-", suffix=".tmp", dir=folder
    )
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return Path(name)


def remove_scratch(path: Path) -> None:
    """Remove a scratch file and the side files SQLite may have made beside it."""
    for suffix in ("", *_SQLITE_SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def remove_orphans(folder: Path) -> list[Path]:
    """Delete the scratch files in `folder` whose process no longer runs; return them."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.glob(f".*{_MARK}*.tmp"):
        match = _ORPHAN.match(path.name)
        if match and not _running(int(match.group(1))):
            remove_scratch(path)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
