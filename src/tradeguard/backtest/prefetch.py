"""A backtest's feather files read in a second process while the command's own one imports.

`tradeguard backtest` forks before its config is validated: the child reads each feather candle
file of `[[data]]` (pyarrow, the checks of a clean file, each distinct price and volume as the
text its `Decimal` is made from) and hands those columns back through a file in memory, while
the command validates its config and imports the node (SQLAlchemy, storage, venues) on the
other core. The command then
makes the candles from them (`candles_of_columns`: the same candles as its own read) and never
imports pyarrow. A file the child could not read cleanly (a bad row, a missing file, one that
changed since) the command reads itself, as without the child, and reports the same way.

```python
prefetch.start_file("bt.toml")              # before load_config and the heavy imports
prefetch.start(config)                      # or with a config already loaded
columns = prefetch.collect()                # {path: (stamp, columns)}; {} if none
```
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradeguard.config import Config

Stamp = tuple[int, int, int, int]  # a file's inode, size, mtime and ctime (see `stamp`)
Prefetched = dict[str, tuple[Stamp, dict[str, Any]]]  # path -> (stamp, clean_columns)

_pending: tuple[int, int] | None = None  # the reader's pid and the scratch file it writes


def start(config: Config) -> bool:
    """Fork the reader of `config`'s feather candle files; False when it was not started (no
    such file, no fork, or other threads running, which a fork would not carry over)."""
    from tradeguard.marketdata.data_files import resolve_data_path

    try:
        paths = [
            str(resolve_data_path(dc.path, config.source_dir))
            for dc in config.data
            if dc.kind == "candles"
        ]
    except Exception:  # e.g. $TG_DATA_DIR naming no directory: the command says so itself
        return False
    return _start(paths)


def start_file(config_path: str, environ: dict[str, str] | None = None) -> bool:
    """`start` from the config file itself, before its models are built (pydantic and the
    config's validation take a tenth of a second the reader spends reading): the `[[data]]`
    entries as written, `TG_…` overrides applied. An entry not plainly written (the config's
    validation will say what is wrong) is not read; the command reads it itself."""
    import tomllib

    from tradeguard.config_env import apply_env_overrides
    from tradeguard.marketdata.data_files import resolve_data_path

    try:
        source = Path(config_path)
        if not source.is_file():  # a FIFO would wait for a writer; load_config refuses it
            return False
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        apply_env_overrides(data, dict(os.environ if environ is None else environ))
        entries = data["data"]  # none: load_config gives the built-in CSV file
        base_dir = source.resolve().parent
        paths = [
            str(resolve_data_path(entry["path"], base_dir))
            for entry in entries
            if isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and entry.get("kind", "candles") == "candles"
        ]
    except Exception:  # no such file, not TOML, no [[data]]: the command says what is wrong
        return False
    return _start(paths)


def cancel() -> None:
    """End a reader started for a command that stops before it reads (a config refused)."""
    global _pending
    if _pending is None:
        return
    pid, scratch = _pending
    _pending = None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.close(scratch)
    _reap(pid)


def _start(paths: list[str]) -> bool:
    global _pending
    if _pending is not None or not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    paths = [p for p in dict.fromkeys(paths) if p.lower().endswith(".feather")]
    if not paths:
        return False
    # Imported before the fork (both processes use it); the node's modules are imported
    # after it, while the reader reads.
    import numpy  # noqa: F401

    # A file in memory, not a pipe: the columns (megabytes) are written at once, never in
    # pipe-sized turns that each wait for the other process to be scheduled.
    # The system may refuse a process or a file (a full process table, a cgroup's pids.max,
    # no descriptor left): the command then reads the files itself.
    try:
        scratch = _scratch_file()
    except OSError:
        return False
    parent = os.getpid()
    from tradeguard.backtest.forked import fork_child

    try:
        pid = fork_child()
    except OSError:
        os.close(scratch)
        return False
    if pid == 0:  # the reader: never returns
        _read_files(scratch, paths, parent)
    _pending = (pid, scratch)
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
    pid, scratch = _pending
    _pending = None
    try:
        _reap(pid)  # the reader ends once it has written everything
        data = os.pread(scratch, os.fstat(scratch).st_size, 0)
    finally:
        os.close(scratch)
    try:
        got = pickle.loads(data) if data else {}
    except Exception:  # a reader killed half-way: the command reads the files itself
        return {}
    return got if isinstance(got, dict) else {}


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # reaped already (a caller's SIGCHLD handler)
        os.waitpid(pid, 0)


def _scratch_file() -> int:
    """A file descriptor of an anonymous file both processes share (memory where it can be)."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("tradeguard-prefetch", os.MFD_CLOEXEC)
    import tempfile

    fd, path = tempfile.mkstemp(prefix="tradeguard-prefetch-")
    os.unlink(path)
    return fd


def _read_files(scratch: int, paths: list[str], parent: int) -> None:
    try:
        from tradeguard.backtest.forked import die_with

        die_with(parent)  # a command killed (SIGKILL, SIGTERM) leaves no reader reading on
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
        with os.fdopen(scratch, "wb") as file:
            file.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    finally:
        os._exit(0)  # nothing of the command's: no exit handlers, no buffers flushed
