"""A walk-forward sweep resumed after its fold layout changed is refused, not resumed.

The folds moved from the midnight before `--from` (the first train span cut at `--from`) to
the whole UTC days within `--from`/`--to`. `sweep.json` holds the split (`--walk-forward 1:1`),
not the fold windows, so a sweep started with the first layout and run again after the change
took `fold-00/train`'s stored result (a backtest of 01-12 12:00..01-13) as the new fold 0's
(01-13..01-14). Each stored result now carries the window it was computed over; a result of
another window, or of none recorded, is refused naming the directory and both windows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backtest_support import write_config
from tradeguard.backtest import sweep
from tradeguard.cli.main import main

DAY = 86_400_000


def _old_folds(first_ms, last_ms, train_days, test_days, window=(None, None)):
    """The layout before whole days: from the midnight of the data's first day, a train span
    cut at --from, and a test span at --to."""
    start = first_ms - first_ms % DAY
    while start + (train_days + test_days) * DAY <= last_ms + DAY:
        lo = start if window[0] is None else max(start, window[0])
        hi = start + (train_days + test_days) * DAY
        yield lo, start + train_days * DAY, hi if window[1] is None else min(hi, window[1])
        start += test_days * DAY


def _sweep(tmp_path: Path, out: Path, *window: str) -> int:
    cfg = write_config(tmp_path, pairs=("ETH",))
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.fast" = [8]\n')
    return main(["sweep", "--config", str(cfg), "--grid", str(grid), "--out", str(out),
                 "--no-ray", "--workers", "1", *window, "--json"])  # fmt: skip


WF = ("--from", "2018-01-12T12:00", "--to", "2018-01-15", "--walk-forward", "1:1")


def test_a_sweep_of_the_old_fold_layout_is_refused_once_the_folds_changed(
    tmp_path, capsys, data_dir, monkeypatch
) -> None:
    out = tmp_path / "s"
    with monkeypatch.context() as m:
        m.setattr(sweep, "folds", _old_folds)
        assert _sweep(tmp_path, out, *WF) == 0
    old = json.loads(capsys.readouterr().out)
    assert [f["train_from"] for f in old["folds"]] == [1_515_758_400_000, 1_515_801_600_000]
    stored = sorted(out.glob("fold-00/train/*/result.json"))
    assert len(stored) == 1
    when = stored[0].stat().st_mtime_ns

    assert _sweep(tmp_path, out, *WF) == 2
    err = capsys.readouterr().err
    assert "fold-00/train" in err and "2018-01-12 12:00:00" in err, err
    assert "2018-01-13 00:00:00" in err and "pick a new --out" in err, err
    assert stored[0].stat().st_mtime_ns == when  # left as it was, not rerun over


def test_a_walk_forward_result_stored_without_its_window_is_refused(
    tmp_path, capsys, data_dir
) -> None:
    out = tmp_path / "s"
    assert _sweep(tmp_path, out, *WF) == 0
    capsys.readouterr()
    for path in out.glob("fold-*/*/*/result.json"):  # as results were written before
        record = json.loads(path.read_text())
        record.pop("window", None)
        path.write_text(json.dumps(record))
    assert _sweep(tmp_path, out, *WF) == 2
    err = capsys.readouterr().err
    assert "fold-00" in err and "no window recorded" in err and "pick a new --out" in err, err


@pytest.mark.parametrize("strip", [False, True], ids=["window stored", "none stored"])
def test_a_plain_sweep_resumes_its_stored_results(tmp_path, capsys, data_dir, strip) -> None:
    # without folds, sweep.json's window covers every combination: a result of before resumes
    out = tmp_path / "s"
    window = ("--from", "2018-01-12", "--to", "2018-01-13")
    assert _sweep(tmp_path, out, *window) == 0
    first = json.loads(capsys.readouterr().out)
    [path] = out.glob("combos/*/result.json")
    record = json.loads(path.read_text())
    if strip:
        assert record.pop("window") == {"start_ms": 1_515_715_200_000, "end_ms": 1_515_801_600_000}
        path.write_text(json.dumps(record))
    assert _sweep(tmp_path, out, *window) == 0
    again = json.loads(capsys.readouterr().out)
    assert (
        again["skipped"] == 1
        and again["leaderboard"][0]["metrics"] == first["leaderboard"][0]["metrics"]
    )
