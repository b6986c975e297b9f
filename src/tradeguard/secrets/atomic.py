"""Writing a file whole or not at all: a 0600 temp file beside it, fsync, rename, fsync the folder.

The vault and the backups both write this way, so a process killed midway leaves the old file
(or none) under the final name, never half of the new one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_WRITE_CHUNK = 1 << 20  # a large backup goes to the kernel a megabyte at a time


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a 0600 temp file, fsync, rename: never half a file."""
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            view = memoryview(data)
            for start in range(0, len(data), _WRITE_CHUNK):
                fh.write(view[start : start + _WRITE_CHUNK])
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
