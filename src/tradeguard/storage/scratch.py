"""Private temporary SQLite files for backups and restores, and sweeping those a kill left.

A backup copies the database into such a file beside the SQLite database it backs up (in the
system's temporary folder, TMPDIR, for PostgreSQL), and a restore decrypts the backup into one
beside the target SQLite database (TMPDIR again for PostgreSQL): memory stays bounded whatever
the database's size. Each file is created 0600 and named `.<stem>.plain-<pid>-<random>.tmp`;
it is removed when its work ends, however it ends. Only SIGKILL (or a power cut) can leave one
behind.

Whether a file is still in use is told by a lock, never by the pid in its name (a pid means
nothing in another PID namespace, and a container's process is PID 1 at every start): the
process that creates a file holds an exclusive `flock` on it until it removes it, and the
kernel drops that lock however the process ends. `remove_orphans` deletes only the files of
this user that it can lock itself; every backup and restore calls it on its folder first.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import tempfile
from contextlib import suppress
from pathlib import Path

_MARK = ".plain-"
_ORPHAN = re.compile(r"^\..*\.plain-\d+-[^/]*\.tmp$")
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")
_ATTEMPTS = 5
_held: dict[Path, int] = {}  # scratch file -> the descriptor holding its lock


def new_scratch_file(folder: Path, stem: str) -> Path:
    """Create an empty 0600 file in `folder` named for `stem` and this process, locked (see the
    module's doc) until the caller removes it with `remove_scratch`. Raises OSError."""
    for _ in range(_ATTEMPTS):
        fd, name = tempfile.mkstemp(
            prefix=f".{stem.lstrip('.')}{_MARK}{os.getpid()}-", suffix=".tmp", dir=folder
        )
        try:
            os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(name, fd):  # not swept between its creation and the lock
                _held[Path(name)] = fd
                return Path(name)
        except BaseException:
            os.close(fd)
            with suppress(OSError):
                os.unlink(name)
            raise
        os.close(fd)
    raise OSError(f"another process kept removing new files in {folder}")


def remove_scratch(path: Path) -> None:
    """Remove a scratch file and the side files SQLite may have made beside it, then release
    its lock."""
    for suffix in ("", *_SQLITE_SIDE_FILES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    fd = _held.pop(Path(path), None)
    if fd is not None:
        os.close(fd)


def held_inode(path: Path) -> int | None:
    """The inode of the scratch file this process created as `path` (None: not one of ours)."""
    fd = _held.get(Path(path))
    return None if fd is None else os.fstat(fd).st_ino


def remove_orphans(folder: Path) -> list[Path]:
    """Delete the scratch files in `folder` that no process holds (their process was killed);
    return them. Only regular files of this user are considered; one that cannot be examined or
    removed is left alone."""
    removed: list[Path] = []
    try:
        candidates = sorted(folder.glob(f".*{_MARK}*.tmp"))
    except OSError:
        return removed
    for path in candidates:
        if _ORPHAN.match(path.name) and _remove_if_orphaned(path):
            removed.append(path)
    return removed


def _remove_if_orphaned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # gone meanwhile, a symbolic link, or not ours to read
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its process runs (in whatever PID namespace)
            return False
        if not _same_file(str(path), fd):  # replaced meanwhile
            return False
        for suffix in ("", *_SQLITE_SIDE_FILES):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _same_file(name: str, fd: int) -> bool:
    try:
        at_name = os.stat(name, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (at_name.st_dev, at_name.st_ino) == (held.st_dev, held.st_ino)
