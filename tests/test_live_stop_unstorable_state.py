"""A strategy state the stop cannot store (a value JSON cannot hold, a `state()` that raises)
at the live loop's last checkpoint: before, the error left the stop there (the collector left
frozen, the heartbeat still "running", the other strategies' states and the run figures not
written) and a `state()` that raised printed a traceback. Now the stop finishes: the last
checkpoint stores every other strategy's state and this one's last stored state, and the run
ends with one line naming the strategy and where in its state the value is."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest

from cli_support import run_cli
from live_support import move_books, sandbox_toml, write_vault
from tradeguard.node.stats import HEARTBEAT_KEY
from tradeguard.sandbox.testing import seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

SOURCE = """
from tradeguard.strategies.base import Strategy


class Keeper(Strategy):
    timeframe = None
    stopped = False

    def on_stop(self):
        self.stopped = True

    def state(self):
        return {"stopped": self.stopped}


class Handle(Keeper):
    def state(self):
        if not self.stopped:
            return {"n": 1}
        if self.params.get("raises"):
            raise RuntimeError("lost the handle")
        return {"n": 2, "handle": object()}
"""


def _strategies(module: Path, raises: bool) -> str:
    return "".join(
        f'[[strategies]]\nid = "{sid}"\nkind = "{module}:{cls}"\nvenue = "binance"\n'
        f'symbol = "BTC/USDT"\nparams = {{ raises = {str(raises).lower()} }}\n'
        for sid, cls in (("bad", "Handle"), ("good", "Keeper"))
    )


@pytest.mark.parametrize("raises", [False, True], ids=["unjsonable", "state-raises"])
async def test_a_state_unstorable_at_the_stop_ends_in_one_line_after_the_whole_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    raises: bool,
) -> None:  # fmt: skip
    write_vault(tmp_path, monkeypatch)
    module = tmp_path / "strats.py"
    module.write_text(SOURCE)
    async with seeded_exchange() as ex:
        config = sandbox_toml(tmp_path, ex, checkpoint_interval_s=0.1)
        text = config.read_text().replace("strategies = []\n", "")
        config.write_text(text + _strategies(module, raises))
        books = asyncio.create_task(move_books(ex))
        try:  # its own event loop, on a thread of its own: the sandbox's runs on this one
            done = await asyncio.wait_for(
                asyncio.to_thread(run_cli, capsys, "run", "--config", str(config),
                                  "--duration", "1"),
                120,
            )  # fmt: skip
        finally:
            books.cancel()
            frozen = gc.get_freeze_count()
            gc.unfreeze()  # the process's collector as the test found it, whatever it shows
    assert frozen == 0  # before: the stop left start-up's objects out of the collector's sight
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr, done.stderr
    last = lines[-1]
    assert done.returncode == 2, done.stderr
    assert "'bad'" in last and "last stored state" in last, done.stderr
    assert ("lost the handle" if raises else "['handle']") in last, last
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    try:
        assert storage.load_run_state("good").state == {"stopped": True}  # stored at the stop
        assert storage.load_run_state("bad").state == {"n": 1}  # its last stored one stands
        assert storage.kv_get(HEARTBEAT_KEY)["stopped"] is True  # `status`: not running
    finally:
        storage.db.dispose()
