"""Sweeps: a grid on a local Ray, killed mid-sweep and resumed; the process-pool fallback; grids
refused with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backtest_support import write_config
from conftest import eventually
from tradeguard.backtest.grid import apply_values, load_grid
from tradeguard.cli.main import main
from tradeguard.model.errors import ConfigError

GRID = """metric = "sharpe"
[grid]
"strategies.*.params.fast" = [8, 12]
"strategies.*.params.slow" = [26, 40]
"""


def _session(pid: int) -> list[int]:
    """Processes in the session led by `pid` (the driver and the Ray processes it started)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def _sweep_argv(cfg: Path, grid: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tradeguard.cli", "sweep", "--config", str(cfg), "--grid",
            str(grid), "--out", str(out), "--from", "2018-01-11", "--to", "2018-01-25",
            "--json", *extra]  # fmt: skip


def test_a_sweep_killed_mid_way_resumes_and_skips_stored_combinations(tmp_path, data_dir):
    cfg = write_config(tmp_path, pairs=("ETH", "ADA", "LTC"))
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    out = tmp_path / "sweep"
    argv = _sweep_argv(cfg, grid, out, "--workers", "1")
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    try:
        eventually(lambda: len(list(out.glob("combos/*/result.json"))) >= 1, timeout_s=120)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
    finally:
        # The local Ray the driver started (and its worker) dies with it.
        for pid in _session(driver.pid):
            os.kill(pid, signal.SIGKILL)
    eventually(lambda: not _session(driver.pid), timeout_s=30)
    stored = {p: p.stat().st_mtime_ns for p in out.glob("combos/*/result.json")}
    assert 1 <= len(stored) < 4

    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    outcome = json.loads(rerun.stdout)
    assert outcome["engine"] == "ray"
    assert outcome["skipped"] == len(stored)
    assert len(outcome["leaderboard"]) == 4
    assert {p: p.stat().st_mtime_ns for p in stored} == stored  # stored ones were not rerun
    sharpes = [r["metrics"]["sharpe"] for r in outcome["leaderboard"]]
    assert sharpes == sorted(sharpes, reverse=True)


def test_without_ray_the_sweep_runs_on_a_process_pool_and_says_so(tmp_path, capsys, data_dir):
    cfg = write_config(tmp_path, pairs=("ETH",))
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.fast" = [8, 12]\n')
    code = main(["sweep", "--config", str(cfg), "--grid", str(grid), "--out", str(tmp_path / "s"),
                 "--no-ray", "--workers", "2", "--from", "2018-01-12", "--to", "2018-01-14",
                 "--walk-forward", "1:1", "--json"])  # fmt: skip
    assert code == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["engine"] == "processes"
    assert len(outcome["folds"]) == 1  # two days: one train day, one test day
    fold = outcome["folds"][0]
    assert fold["best"] == outcome["leaderboard"][0]["values"]
    assert fold["out_of_sample"]["first_ts"] >= fold["test_from"]
    assert outcome["out_of_sample"]["folds"] == 1


def test_grid_values_reach_every_strategy_and_bad_grids_are_named(tmp_path):
    config = {"strategies": [{"params": {"fast": 1}}, {"params": {}}]}
    apply_values(config, {"strategies.*.params.fast": 9})
    assert [s["params"]["fast"] for s in config["strategies"]] == [9, 9]
    bad = tmp_path / "bad.toml"
    bad.write_text('[grid]\n"strategies.*.params.fast" = []\n')
    with pytest.raises(ConfigError, match=r"grid.strategies.\*.params.fast = \[\]: must be a non"):
        load_grid(bad)
    with pytest.raises(ConfigError, match="cannot replace a list element"):
        apply_values(config, {"strategies.*": 1})


def test_a_combination_the_strategy_refuses_stops_the_sweep_before_it_starts(
    tmp_path, capsys, data_dir
):
    cfg = write_config(tmp_path, pairs=("ETH",))
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.fast" = [12, 30]\n')
    code = main(["sweep", "--config", str(cfg), "--grid", str(grid), "--out",
                 str(tmp_path / "s"), "--no-ray"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tradeguard: grid combination fast=30: ")
    assert "fast=30, slow=26" in err
    assert not (tmp_path / "s").exists()


def test_a_sweep_run_again_with_other_inputs_is_refused_not_resumed(tmp_path, capsys, data_dir):
    """Stored results are of the backtests that made them: a sweep run again into the same
    directory with another window, config or strategy file would rank those old figures as if
    they were the new ones (it did, saying '1 combination(s) resumed')."""
    cfg = write_config(tmp_path, pairs=("ETH",))
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.fast" = [8]\n')
    out = tmp_path / "s"

    def sweep(cfg_path: Path, to: str = "2018-01-13") -> int:
        return main(["sweep", "--config", str(cfg_path), "--grid", str(grid), "--out", str(out),
                     "--no-ray", "--workers", "1", "--from", "2018-01-12", "--to", to,
                     "--json"])  # fmt: skip

    assert sweep(cfg) == 0
    first = json.loads(capsys.readouterr().out)
    [stored] = out.glob("combos/*/result.json")
    when = stored.stat().st_mtime_ns

    assert sweep(cfg, to="2018-01-14") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tradeguard: --out {out}: holds a sweep of other inputs (the window")

    dearer = tmp_path / "dearer.toml"
    dearer.write_text(cfg.read_text().replace('taker_fee = "0.001"', 'taker_fee = "0.01"'))
    assert sweep(dearer) == 2
    assert "(the config changed since)" in capsys.readouterr().err

    assert sweep(cfg) == 0  # the same inputs: resumed
    again = json.loads(capsys.readouterr().out)
    assert again["skipped"] == 1 and again["leaderboard"] == first["leaderboard"]
    assert stored.stat().st_mtime_ns == when


def test_a_sweep_into_a_directory_of_other_files_is_refused(tmp_path, capsys):
    cfg = write_config(tmp_path, pairs=("ETH",))
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.fast" = [8]\n')
    out = tmp_path / "s"
    (out / "combos").mkdir(parents=True)
    code = main(["sweep", "--config", str(cfg), "--grid", str(grid), "--out", str(out),
                 "--no-ray"])  # fmt: skip
    assert code == 2
    assert "holds no sweep.json" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("fast", "fast = (not shown): unknown key"),
        ("risk.max_drawdown_pct", "risk.max_drawdown_pct = 500: Input should be less than or"),
    ],
)
def test_a_grid_key_the_config_refuses_is_named_as_config_check_names_it(
    tmp_path, capsys, data_dir, key, said
):
    """A grid key that is no config path (`fast` for `strategies.*.params.fast`) or a value out
    of range ended in pydantic's own text: "1 validation error for Config fast Extra inputs
    are not permitted [type=extra_forbidden, input_value=5, input_type=int]"."""
    cfg = write_config(tmp_path, pairs=("ETH",))
    grid = tmp_path / "grid.toml"
    grid.write_text(f'[grid]\n"{key}" = [5, 500]\n')
    code = main(["sweep", "--config", str(cfg), "--grid", str(grid), "--out",
                 str(tmp_path / "s"), "--no-ray"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tradeguard: grid combination "), err
    assert said in err, err
    assert "validation error for" not in err and "type=" not in err, err
    assert not (tmp_path / "s").exists()
