"""A command's progress bar on a terminal, gone once the command ends, whatever ends it.

A Ctrl-C can land inside the bar's own start (rich's `Live.start`: while it draws its first
frame, or waits for its refresh thread). `with Progress(...)` then never stops it: stdout and
stderr stay redirected into the bar, and a console whose output buffer the Ctrl-C left open
held every line written after it, the command's "stopped by Ctrl-C" line included, until the
process ended without it. `progress_bar` stops the bar and lets that buffer out in every case.

```python
with progress_bar(console, "backtest", Eta) as progress:   # Eta: one more column, or none
    progress(done, total)
```
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tradeguard.ctrl_c_reach import signals_held


@contextlib.contextmanager
def progress_bar(console: Any, label: str, *columns: Any) -> Iterator[Any]:
    """A transient `label` bar on the rich `console` (a terminal's); yield `progress(done,
    total)`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), *columns, console=console,
        transient=True,
    )  # fmt: skip
    try:
        with signals_held():  # its refresh thread, started here, never takes a Ctrl-C
            bar.start()  # a Ctrl-C may stop it part-way: the `finally` undoes what it did
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
    finally:
        stop_bar(bar, console)


def stop_bar(bar: Any, console: Any) -> None:
    """Stop `bar` (started or not, whole or part-way) and write out what `console` holds."""
    try:
        bar.stop()
    except Exception:
        # A start stopped before it pushed its render hook: rich's stop pops one all the same
        # (IndexError) after it gave stdout and stderr back. What it skipped is the cursor; the
        # command's own outcome (a Ctrl-C, an error) is the one to report, not this.
        with contextlib.suppress(Exception):
            console.show_cursor(True)
    finally:
        # A Ctrl-C inside the stop itself (a run ending as it is typed) skips the rest of it:
        # its refresh thread is stopped (it went on redrawing the bar over what followed) and
        # stdout and stderr are given back here in any case (a no-op once they were).
        # (rich's own parts: looked up, so a rich without them keeps its plain stop)
        refresh = getattr(bar.live, "_refresh_thread", None)
        if refresh is not None and hasattr(refresh, "stop"):
            refresh.stop()
        hooks = getattr(console, "_render_hooks", None)
        if isinstance(hooks, list) and bar.live in hooks:
            hooks.remove(bar.live)  # its frame drawn under every later line
        give_back = getattr(bar.live, "_disable_redirect_io", None)
        if give_back is not None:
            give_back()
        # rich counts nested `with console:` blocks per thread and writes its buffer when the
        # count is back to 0: a Ctrl-C between its increment and the block's start leaves it
        # at 1 for good. Nothing of this thread is inside such a block here.
        if getattr(console, "_buffer_index", 0) and hasattr(console, "_check_buffer"):
            console._buffer_index = 0
            console._check_buffer()
