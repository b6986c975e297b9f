"""A backtest's feather files read in a second process while the command's own one imports.

`tradeguard backtest` forks once its config is loaded: the child reads each feather candle
file of `[[data]]` (pyarrow, the checks of a clean file, each distinct price and volume as the
text its `Decimal` is made from) and hands those columns back through a pipe, while the
command imports the node (SQLAlchemy, storage, venues) on the other core. The command then
makes the candles from them (`candles_of_columns`: the same candles as its own read) and never
imports pyarrow. A file the child could not read cleanly (a bad row, a missing file, one that
changed since) the command reads itself, as without the child, and reports the same way.

```python
prefetch.start(config)                      # after load_config, before the heavy imports
columns = prefetch.collect()                # {path: (stamp, columns)}; {} if none
```
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradeguard.config import Config

Stamp = tuple[int, int, int, int]  # a file's inode, size, mtime and ctime (see `stamp`)
Prefetched = dict[str, tuple[Stamp, dict[str, Any]]]  # path -> (stamp, clean_columns)

_pending: tuple[int, int] | None = None  # the reader's pid and the pipe's read end


def start(config: Config) -> bool:
    """Fork the reader of `config`'s feather candle files; False when it was not started (no
    such file, no fork, or other threads running, which a fork would not carry over)."""
    global _pending
    if _pending is not None or not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    # Imported before the fork (both processes use them); the node's modules are imported
    # after it, while the reader reads.
    import numpy  # noqa: F401

    from tradeguard.marketdata.data_files import resolve_data_path

    try:
        paths = [
            str(resolve_data_path(dc.path, config.source_dir))
            for dc in config.data
            if dc.kind == "candles"
        ]
    except Exception:  # e.g. $TG_DATA_DIR naming no directory: the command says so itself
        return False
    paths = [p for p in dict.fromkeys(paths) if p.lower().endswith(".feather")]
    if not paths:
        return False
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the reader: never returns
        os.close(read_end)
        _read_files(write_end, paths)
    os.close(write_end)
    _pending = (pid, read_end)
    return True


def stamp(path: str) -> Stamp:
    """What tells the file at `path` from another: a file put in place since (rsync -a, cp -p,
    tar) may carry the same modification time, never the same inode and change time."""
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def collect() -> Prefetched:
    """The columns the reader sent (waiting for it to end); {} if none was started or it
    failed."""
    global _pending
    if _pending is None:
        return {}
    pid, read_end = _pending
    _pending = None
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    finally:
        _reap(pid)
    try:
        got = pickle.loads(data) if data else {}
    except Exception:  # a reader killed half-way: the command reads the files itself
        return {}
    return got if isinstance(got, dict) else {}


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # reaped already (a caller's SIGCHLD handler)
        os.waitpid(pid, 0)


def _read_files(write_end: int, paths: list[str]) -> None:
    try:
        # The command's stdout and stderr (maybe a caller's pipes) are not the reader's to hold.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        from tradeguard.marketdata.candle_files import feather_columns
        from tradeguard.marketdata.data_files import existing

        out: Prefetched = {}
        for path in paths:
            try:
                seen = stamp(path)
                columns = feather_columns(existing(path))
            except Exception:  # the command reads it again and says what is wrong
                continue
            if columns is not None:
                out[path] = (seen, columns)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    finally:
        os._exit(0)  # nothing of the command's: no exit handlers, no buffers flushed
