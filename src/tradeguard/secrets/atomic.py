"""Writing a file whole or not at all: a 0600 temp file beside it, fsync, rename, fsync the folder.

The vault and the backups both write this way, so a process killed midway leaves the old file
(or none) under the final name, never half of the new one.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_WRITE_CHUNK = 1 << 20  # a large backup goes to the kernel a megabyte at a time


@contextmanager
def atomic_file(path: Path, *, text: bool = False, mkdir: bool = True) -> Iterator[IO[Any]]:
    """Open a 0600 temp file beside `path` to write; on a clean exit fsync it, rename it to
    `path` and fsync the folder; on any error remove it. Never half a file under `path`."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory; give a file name", str(path))
    directory = path.parent
    if mkdir:
        directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        handle: IO[Any] = (
            os.fdopen(fd, "w", newline="", encoding="utf-8") if text else os.fdopen(fd, "wb")
        )
        with handle as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (`atomic_file`), a megabyte at a time."""
    with atomic_file(path) as fh:
        view = memoryview(data)
        for start in range(0, len(data), _WRITE_CHUNK):
            fh.write(view[start : start + _WRITE_CHUNK])
