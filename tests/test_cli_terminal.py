"""The command line in a real terminal: progress bars, prompts and colours under a pty."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from pty_support import run_in_pty

EXE = Path(sys.executable).parent / "tradeguard"


def _short_config(tmp_path: Path, data: Path) -> Path:
    return write_paper_toml(tmp_path, data, node_extra="checkpoint_every = 500", name="short.toml")


def test_run_until_end_in_a_terminal_shows_the_summary_fresh_and_resumed(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 3000)
    cfg = str(_short_config(tmp_path, data))
    code, screen = run_in_pty([str(EXE), "run", "--until-end", "--config", cfg], cwd=tmp_path)
    assert code == 0, screen
    assert "Traceback" not in screen
    assert "Run summary" in screen and "3,000" in screen
    code, screen = run_in_pty([str(EXE), "run", "--until-end", "--config", cfg], cwd=tmp_path)
    assert code == 0, screen
    assert "Resuming" in screen and "Run summary (paper, resumed)" in screen


@pytest.mark.slow
def test_quick_start_command_in_a_terminal_replays_the_bundled_month(tmp_path, data_dir):
    env = {"TG_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    code, screen = run_in_pty([str(EXE), "run", "--until-end"], cwd=tmp_path, env=env)
    assert code == 0, screen
    assert "Run summary" in screen and "45,031" in screen and "Traceback" not in screen


async def test_a_sandbox_run_in_a_terminal_shows_no_replay_progress_bar(tmp_path, monkeypatch):
    import asyncio

    from live_support import sandbox_toml, write_vault
    from tradeguard.sandbox.testing import seeded_exchange

    write_vault(tmp_path, monkeypatch)
    async with seeded_exchange() as ex:
        config = sandbox_toml(tmp_path, ex)
        argv = [str(EXE), "run", "--config", str(config), "--duration", "2"]
        code, screen = await asyncio.to_thread(run_in_pty, argv, cwd=tmp_path, timeout_s=120)
    assert code == 0, screen
    assert "Run summary (sandbox)" in screen and "Traceback" not in screen
    # Nothing is replayed in a live run: no bar counting candles that never come.
    assert "replay" not in screen and "0/?" not in screen
    assert "Market events (this run)" in screen


def test_serve_in_an_80_column_terminal_folds_its_banner_and_stops_on_ctrl_c(tmp_path, data_dir):
    from pty_support import PtySession

    data = write_slice(data_dir, tmp_path / "btc.csv", 300)
    cfg = str(_short_config(tmp_path, data))
    session = PtySession([str(EXE), "serve", "--config", cfg, "--port", "0"], cwd=tmp_path)
    banner = session.expect("Ctrl-C stops.")
    session.type(b"\x03")
    code, rest = session.finish()
    assert code == 130 and "Traceback" not in rest, rest  # Ctrl-C: 130, as every command
    lines = banner[banner.index("tradeguard API and dashboard on") :].split("\r\n")
    assert len(lines) > 1 and all(line.startswith("    ") for line in lines[1:]), banner


HOSTILE_REASON = "drill\x1b[2J\x1b]0;pwned\x07\x1b[8mhidden\u202eevil\x9b31m"


def _store_halt(cfg: str, reason: str, tmp_path: Path) -> None:
    """Halt the stored risk state with `reason`, as the API or a bot's emergency stop would."""
    script = (
        "import argparse, sys\n"
        "from tradeguard.cli.control import _risk_engine\n"
        "storage, risk = _risk_engine(argparse.Namespace(config=sys.argv[1], db=None))\n"
        "risk.halt(sys.argv[2], 'api')\n"
        "storage.db.dispose()\n"
    )
    done = subprocess.run([sys.executable, "-c", script, cfg, reason], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_reason_with_terminal_escapes_is_shown_escaped_never_acted_on(tmp_path, data_dir):
    """A kill reason reaches the store from the API or a bot's emergency stop; printed raw it
    clears the operator's screen, retitles the window, hides text or reorders it. The command
    line refuses such a reason outright (exit 2), naming the character escaped."""
    data = write_slice(data_dir, tmp_path / "btc.csv", 300)
    cfg = str(_short_config(tmp_path, data))
    code, screen = run_in_pty([str(EXE), "run", "--until-end", "--config", cfg], cwd=tmp_path)
    assert code == 0, screen
    code, refused = run_in_pty([str(EXE), "kill", "--reason", HOSTILE_REASON, "--config", cfg],
                               cwd=tmp_path)  # fmt: skip
    assert code == 2 and "--reason" in refused and "\\x1b" in refused, refused
    _store_halt(cfg, HOSTILE_REASON, tmp_path)
    code, status = run_in_pty([str(EXE), "status", "--config", cfg], cwd=tmp_path)
    assert code == 0, status
    for screen in (refused, status):
        for raw in ("\x1b[2J", "\x1b]0;", "\x07", "\x1b[8m", "\u202e", "\x9b"):
            assert raw not in screen, (raw, screen)
    assert "drill\\x1b[2J" in status and "hidden\\u202eevil" in status, status


def test_run_with_the_api_enabled_names_its_address_once(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 300)
    cfg = write_paper_toml(tmp_path, data, extra="[api]\nenabled = true\nport = 0\n")
    code, screen = run_in_pty([str(EXE), "run", "--until-end", "--config", str(cfg)], cwd=tmp_path)
    assert code == 0, screen
    assert screen.count("API and dashboard on http://127.0.0.1:") == 1, screen
