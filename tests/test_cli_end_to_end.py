"""The command line end to end: run, resume, read commands, config errors, kill and resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.cli import main

EXE = Path(sys.executable).parent / "tradeguard"


def _config(tmp_path: Path, data: Path, extra: str = "") -> Path:
    return write_paper_toml(tmp_path, data, extra=extra)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_run_then_second_run_resumes_instead_of_starting_over(tmp_path, data_dir, capsys):
    data = write_slice(data_dir, tmp_path / "btc.csv", 3000)
    cfg = str(_config(tmp_path, data))
    first = _json(capsys, ["run", "--config", cfg, "--until-end", "--json"])
    assert first["events"] == 3000 and not first["resumed"]
    assert first["orders"] > 0 and first["fills"] > 0
    assert first["closed_trades"] == first["winning_trades"] + first["losing_trades"]
    assert float(first["fees"]) > 0
    second = _json(capsys, ["run", "--config", cfg, "--until-end", "--json"])
    assert second["resumed"] and second["events"] == 0
    assert second["events_total"] == 3000
    assert second["orders"] == first["orders"]
    assert second["end_equity"] == first["end_equity"]

    orders = _json(capsys, ["orders", "--config", cfg, "--json", "--limit", "500"])
    assert len(orders) == first["orders"]
    assert all(o["signal"].get("reason") for o in orders)  # every order records its signal
    fills_total = sum(float(o["filled"]) > 0 for o in orders)
    assert fills_total == first["fills"]
    positions = _json(capsys, ["positions", "--config", cfg, "--json", "--all"])
    closed = [p for p in positions if p["status"] == "closed"]
    assert len(closed) == first["closed_trades"]
    balances = _json(capsys, ["balances", "--config", cfg, "--json"])
    assert {b["asset"] for b in balances} >= {"USDT"}
    status = _json(capsys, ["status", "--config", cfg, "--json"])
    assert status["strategies"][0]["strategy_id"] == "ma_cross"
    assert status["strategies"][0]["total_trades"] == first["closed_trades"]


def test_config_check_names_key_value_and_range(tmp_path, data_dir, capsys):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    good = _config(tmp_path, data)
    assert main(["config", "check", str(good)]) == 0
    bad = _config(tmp_path, data, extra="[risk]\nmax_drawdown_pct = 150\n")
    capsys.readouterr()
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "risk.max_drawdown_pct" in err and "150" in err and "100" in err


def test_environment_override_is_validated(tmp_path, data_dir, capsys, monkeypatch):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    cfg = _config(tmp_path, data)
    monkeypatch.setenv("TG_RISK__MAX_OPEN_POSITIONS", "0")
    capsys.readouterr()
    assert main(["config", "check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "risk.max_open_positions" in err and "0" in err


def test_unknown_key_and_bad_strategy_param_are_refused(tmp_path, data_dir, capsys):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    cfg = _config(tmp_path, data, extra="[risk]\nmax_daily_los = 5\n")
    assert main(["config", "check", str(cfg)]) == 2
    assert "max_daily_los" in capsys.readouterr().err
    cfg2 = _config(tmp_path, data).read_text().replace("fast = 5", "fast = 50")
    (tmp_path / "b.toml").write_text(cfg2)
    assert main(["run", "--config", str(tmp_path / "b.toml"), "--until-end"]) == 2
    assert "fast = 50 must be below slow = 20" in capsys.readouterr().err


def test_missing_data_file_is_a_clear_error_not_a_crash(tmp_path, capsys):
    cfg = _config(tmp_path, tmp_path / "nope.csv")
    assert main(["run", "--config", str(cfg), "--until-end"]) == 1
    err = capsys.readouterr().err
    assert "nope.csv" in err and "Traceback" not in err


def test_kill_then_resume_from_the_command_line(tmp_path, data_dir, capsys):
    data = write_slice(data_dir, tmp_path / "btc.csv", 100)
    cfg = str(_config(tmp_path, data))
    _json(capsys, ["run", "--config", cfg, "--until-end", "--json"])
    report = _json(capsys, ["kill", "--config", cfg, "--json", "--reason", "drill"])
    assert report["reason"] == "drill" and report["failed"] == []
    assert _json(capsys, ["status", "--config", cfg, "--json"])["trading_state"] == "HALTED"
    # without confirmation nothing changes (no terminal to ask at, no --yes: a usage error)
    assert main(["resume", "--config", cfg, "--reason", "drill over"]) == 2
    assert _json(capsys, ["status", "--config", cfg, "--json"])["trading_state"] == "HALTED"
    out = _json(
        capsys,
        ["resume", "--config", cfg, "--reason", "drill over", "--yes", "--by", "alice", "--json"],
    )
    assert out == {"resumed": True, "message": out["message"], "state": "ACTIVE"}
    assert "alice" in out["message"]
    events = _json(capsys, ["status", "--config", cfg, "--json"])
    assert events["trading_state"] == "ACTIVE"


@pytest.mark.slow
def test_quick_start_command_runs_the_bundled_month_and_shows_a_summary(tmp_path, data_dir):
    env = dict(os.environ, TG_DATA_DIR=str(data_dir))
    proc = subprocess.run(
        [str(EXE), "run", "--until-end"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for label in ("Run summary", "Closed trades", "Fees paid", "Max drawdown", "45,031"):
        assert label in proc.stdout
    assert (tmp_path / "tradeguard.db").exists()
    again = subprocess.run(
        [str(EXE), "run", "--until-end"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0 and "Resuming" in again.stdout
