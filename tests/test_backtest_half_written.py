"""A backtest whose unit meets a step that failed halfway ends with one clear line.

In a write batch (a backtest's commits) a nested block that fails after writing cannot be
taken back alone: its changes to memory are not kept, so undoing its rows and going on would
leave memory holding what the database does not, and going on from the last commit would drop
every event since without a word. The unit refuses its commit (`HalfWritten`) and the run
ends; that is the honest answer. The command line said it with a Python traceback (a bare
RuntimeError); now it prints one line naming the failed step's error and what a resume does,
and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backtest_support import write_config
from test_storage_batch_nested import _failing_block
from tradeguard.model.errors import TradeguardError
from tradeguard.storage import Database, Storage
from tradeguard.storage.nesting import HalfWritten


def _half_written(tmp_path: Path) -> HalfWritten:
    db = Database(f"sqlite:///{tmp_path / 'half.db'}")
    db.migrate()
    store = Storage(db)
    try:
        with store.holding_connection(), store.unit_of_work(batch=True):
            store.kv_set("before", 1)
            _failing_block(store, write=True)
    except HalfWritten as exc:
        return exc
    finally:
        db.dispose()
    raise AssertionError("the unit committed half a block")


def test_a_half_written_backtest_ends_with_one_line_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tradeguard.backtest.runner as runner
    from tradeguard.cli.main import main

    refused = _half_written(tmp_path)
    assert isinstance(refused, TradeguardError)

    def run_backtest(*args: Any, **kwargs: Any) -> Any:
        raise refused

    monkeypatch.setattr(runner, "run_backtest", run_backtest)
    cfg = write_config(tmp_path, pairs=("ETH",))

    # before: the HalfWritten (a RuntimeError) escaped main with its traceback
    code = main(["backtest", "--config", str(cfg), "--out", str(tmp_path / "run")])

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("tradeguard: the run stopped: a step failed after writing part of an")
    assert "(ValueError: refused halfway)" in err
    assert "rolled back to the last commit" in err and "a resume does" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
