"""Set the SQLite library up before the `sqlite3` module first starts it.

SQLite counts every allocation it makes in process-wide memory statistics, under a mutex: a
lock and an unlock around each of the ~180 allocations an order's rows make (and their frees).
Nothing here reads those statistics (the `sqlite3` module exposes none of them), so they are
turned off. That can only be done before the library is initialised, which importing `sqlite3`
does; hence this module runs before `tradeguard.storage.db` imports it (the storage package
imports it first). It changes no stored byte: only `sqlite3_memory_used`, `_highwater`,
`sqlite3_status64` and the heap limits stop counting.

Best effort: where the library is not found under its Linux name, is linked into the module
itself, or was started already (another package imported `sqlite3` first), it is left as it is.
"""

from __future__ import annotations

import sys

_SQLITE_CONFIG_MEMSTATUS = 9  # sqlite3_config's option number (sqlite3.h)


def memory_statistics_off() -> bool:
    """Turn SQLite's memory statistics off; tell whether the library took the setting."""
    if "_sqlite3" in sys.modules or not sys.platform.startswith("linux"):
        return False  # started already, or a library name not known here
    try:
        import ctypes  # numpy, which a backtest loads first, has imported it already

        lib = ctypes.CDLL("libsqlite3.so.0")
        return int(lib.sqlite3_config(_SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0))) == 0
    except (OSError, AttributeError):  # no such library, or one without the entry point
        return False


MEMORY_STATISTICS_OFF = memory_statistics_off()
