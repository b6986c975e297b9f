"""A sandbox run whose strategy blocks, stopped by one Ctrl-C typed on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from live_support import move_books, sandbox_toml, write_vault
from pty_support import PtySession
from tradeguard.sandbox.testing import seeded_exchange

EXE = Path(sys.executable).parent / "tradeguard"


async def ctrl_c_once_marked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    *,
    strategy: str,
    cls: str,
    marker: str,
    finish_s: float,
    second: bool = False,
) -> tuple[int | None, str, float]:
    """Run a sandbox node with strategy id `strategy`, class `cls` of `source` (saved as
    `<strategy>.py`); once it writes the file `marker` it is handed, type one Ctrl-C (never a
    second, unless `second`: then again once the first is acknowledged); return the exit code,
    the screen and the seconds the run took to end (at most `finish_s`)."""
    write_vault(tmp_path, monkeypatch)
    module = tmp_path / f"{strategy}.py"
    module.write_text(source)
    mark = tmp_path / marker
    async with seeded_exchange() as ex:
        config = sandbox_toml(tmp_path, ex, checkpoint_interval_s=0.2)
        text = config.read_text().replace("strategies = []\n", "")
        config.write_text(
            text + f'[[strategies]]\nid = "{strategy}"\nkind = "{module}:{cls}"\n'
            f'venue = "binance"\nsymbol = "BTC/USDT"\nparams = {{ marker = "{mark}" }}\n'
        )
        books = asyncio.create_task(move_books(ex))
        session = PtySession([str(EXE), "run", "--config", str(config)], cwd=tmp_path)
        try:
            for _ in range(1200):  # the callback runs and blocks the loop
                if mark.exists() or session.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            assert mark.exists(), await asyncio.to_thread(session.finish, 5)
            await asyncio.sleep(0.3)
            asked = time.monotonic()
            session.type(b"\x03")  # one Ctrl-C, never a second ...
            shown = ""
            if second:  # ... unless asked: then once the first is acknowledged
                shown = await asyncio.to_thread(session.expect, "Ctrl-C again", finish_s)
                session.type(b"\x03")
            code, screen = await asyncio.to_thread(session.finish, finish_s)
            screen = shown + screen
            took = time.monotonic() - asked
        finally:
            books.cancel()
            if session.proc.poll() is None:
                session.proc.kill()
    return code, screen, took
