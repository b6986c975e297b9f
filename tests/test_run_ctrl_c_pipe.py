"""Ctrl-C in a terminal reaches every process of the pipeline: `tradeguard run ... 2>&1 | tee
run.log` loses its reader (tee dies of the same SIGINT) while it stops. The run still ends on
its own, bounded, with its last checkpoint and run.finished record, exit 130, and no traceback;
what tee took in before it died is in the log. And `| head -5` on a long listing ends quietly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATA_DIR
from live_support import move_books, sandbox_toml, two_symbol_sandbox, write_vault
from node_support import write_slice
from pty_support import PtySession, run_in_pty
from test_cli_terminal import _short_config
from tradeguard.node.interrupt import LiveInterrupts

EXE = Path(sys.executable).parent / "tradeguard"


def _child(parent: int, name: str) -> int:
    """The pid of `parent`'s child process called `name` (0: none)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        if comm == name and int(rest.split()[1]) == parent and rest.split()[0] != "Z":
            return int(entry.name)
    return 0


def _heartbeat(db: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return False
    try:
        row = conn.execute("SELECT 1 FROM kv_state WHERE key = 'node.heartbeat'").fetchone()
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()
    return row is not None


@pytest.mark.parametrize("reader_first", [False, True], ids=["ctrl-c", "reader-gone-first"])
async def test_ctrl_c_on_a_sandbox_run_piped_into_tee_ends_whole(
    reader_first: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vault(tmp_path, monkeypatch)
    db, log, rc = tmp_path / "tg.db", tmp_path / "run.log", tmp_path / "rc"
    async with two_symbol_sandbox() as ex:
        config = sandbox_toml(tmp_path, ex, checkpoint_interval_s=0.2)
        config.write_text(config.read_text() + "[api]\nenabled = true\nport = 0\n")
        books = asyncio.create_task(move_books(ex))
        # the shell of a terminal: the pipeline's processes share the terminal's process group,
        # so Ctrl-C signals tradeguard and tee alike; the shell then records tradeguard's code
        line = (
            f"'{EXE}' run --config '{config}' 2>&1 | tee '{log}'; "
            f"echo \"${{PIPESTATUS[0]}}\" > '{rc}'"
        )
        session = PtySession(["bash", "-c", line], cwd=tmp_path)
        try:
            for _ in range(1200):  # trading: the live loop's first heartbeat is stored
                if _heartbeat(db) or session.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            assert _heartbeat(db), await asyncio.to_thread(session.finish, 5)
            await asyncio.sleep(0.5)
            if reader_first:
                tee = _child(session.proc.pid, "tee")
                os.kill(tee, signal.SIGINT)
                while _child(session.proc.pid, "tee"):
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.3)
            asked = time.monotonic()
            session.type(b"\x03")  # one Ctrl-C
            code, screen = await asyncio.to_thread(session.finish, 60)
            took = time.monotonic() - asked
        finally:
            books.cancel()
            if session.proc.poll() is None:
                session.proc.kill()
    assert rc.read_text().strip() == "130", (code, screen, log.read_text())
    assert took < 20, (took, screen)
    text = log.read_text()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert "Traceback" not in screen, screen
    conn = sqlite3.connect(db)
    try:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY id")]
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    assert check == "ok"
    assert kinds[-1] == "run.finished"  # the stop ran to its end: checkpoint, summary record


def test_the_first_ctrl_c_asks_the_stop_even_when_stderr_is_a_broken_pipe(monkeypatch) -> None:
    # The handler printed its line first: the BrokenPipeError of that print was raised into
    # whatever code the signal interrupted, and the stop was never asked for.
    class Node:
        stopped = False

        def request_stop(self) -> None:
            self.stopped = True

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (tee) is gone
    broken = os.fdopen(write_end, "w")
    monkeypatch.setattr(sys, "stderr", broken)
    node = Node()
    stop = LiveInterrupts(node)  # type: ignore[arg-type]
    try:
        stop._on_sigint(signal.SIGINT, None)  # raises nothing
    finally:
        monkeypatch.undo()
        with contextlib.suppress(BrokenPipeError):
            broken.close()
    assert node.stopped and stop.interrupted


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paper replay's config and database, with a few hundred orders to list."""
    root = tmp_path_factory.mktemp("ran")
    if not DATA_DIR.is_dir():
        pytest.fail(f"real market data not found at {DATA_DIR}; set TG_DATA_DIR")
    cfg = _short_config(root, write_slice(DATA_DIR, root / "btc.csv", 3000))
    done = subprocess.run(
        [str(EXE), "run", "--config", str(cfg), "--until-end", "--json"],
        capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return cfg


@pytest.mark.parametrize(
    "argv",
    [["orders", "--limit", "500"], ["status", "--json"], ["orders", "--json", "--limit", "500"],
     ["fills"], ["positions", "--all"]],
    ids=lambda argv: " ".join(argv),
)  # fmt: skip
def test_long_output_into_head_ends_quietly(argv: list[str], ran: Path, tmp_path: Path) -> None:
    rc = tmp_path / "rc"
    words = " ".join(f"'{a}'" for a in argv)
    line = f"'{EXE}' {words} --config '{ran}' | head -5; echo \"${{PIPESTATUS[0]}}\" > '{rc}'"
    code, screen = run_in_pty(["bash", "-c", line], cwd=tmp_path, timeout_s=120)
    assert code == 0, screen
    assert rc.read_text().strip() == "0", screen
    assert len(screen.strip().splitlines()) == 5, screen  # head's five lines and nothing else
    for bad in ("Traceback", "Exception ignored", "BrokenPipe", "Errno"):
        assert bad not in screen, screen
