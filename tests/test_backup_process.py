"""Backups as processes: killed midway, taken while a node writes, the passphrase prompt."""

from __future__ import annotations

import json
import os
import pty
import resource
import select
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from backup_support import EXE, _env
from conftest import eventually
from node_support import write_paper_toml, write_slice
from tradeguard.cli import main
from tradeguard.secrets.backup_file import PASSPHRASE_ENV, open_backup

PASS = "correct horse battery staple"
MARKER = "plaintext-marker-7f3a"
pytest_plugins = ["backup_fixtures"]  # paper_db


def _pad_events(db: Path, rows: int) -> None:
    """Make the database large enough that writing its backup takes a while."""
    conn = sqlite3.connect(db)
    payload = json.dumps({"note": MARKER, "pad": os.urandom(600).hex()})
    with conn:
        conn.executemany(
            "INSERT INTO events (ts, kind, severity, venue, symbol, strategy_id, data) "
            "VALUES (?, 'padding', 'info', 'paper', 'BTC/USDT', '', ?)",
            ((i, payload) for i in range(rows)),
        )
    conn.close()


def _temp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp")) if folder.is_dir() else []


def _plain(path: Path) -> bool:
    return ".plain-" in path.name  # the private copy of the database, before encryption


def _kill_when(argv: list[str], ready: Callable[[], bool], env: dict[str, str]) -> None:
    """Start `argv` and SIGKILL it once `ready()`; retry when it finishes before."""
    for _ in range(5):
        proc = subprocess.Popen(argv, env=env)
        eventually(lambda p=proc: ready() or p.poll() is not None, 120, 0.001)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL
            return
        proc.wait()
    raise AssertionError(f"{argv[1]} finished every time before it could be killed")


def test_a_backup_killed_midway_leaves_no_file_under_the_final_name(tmp_path, paper_db):
    cfg, db = paper_db()
    _pad_events(db, 60_000)  # about 80 MB
    out = tmp_path / "backups" / "tg.tgb"
    out.parent.mkdir()  # backup --out makes no folder
    argv = [EXE, "backup", "--config", cfg, "--out", str(out)]
    env = _env(**{PASSPHRASE_ENV: PASS})
    # Killed while encrypting: the plaintext copy's name is already gone; ciphertext is left.
    _kill_when(argv, lambda: any(not _plain(p) for p in _temp_files(out.parent)), env)
    assert not out.exists()
    left = _temp_files(out.parent)
    assert left and not any(_plain(p) for p in left)
    for leftover in left:  # what a kill leaves is ciphertext, privately
        assert leftover.stat().st_mode & 0o777 == 0o600
        assert MARKER.encode() not in leftover.read_bytes()
    # Killed while copying the database: its private copy is left beside the database (in the
    # clear there already), never in the backup folder, until the next backup sweeps it.
    _kill_when(argv, lambda: any(_plain(p) for p in _temp_files(db.parent)), env)
    assert not out.exists()
    copies = [p for p in _temp_files(db.parent) if _plain(p)]
    assert copies and all(p.stat().st_mode & 0o777 == 0o600 for p in copies)
    assert not any(_plain(p) for p in _temp_files(out.parent))
    done = subprocess.run(argv, env=env, timeout=300)
    assert done.returncode == 0
    assert not any(_plain(p) for p in _temp_files(db.parent))  # swept: their process is gone
    _, parts = open_backup(out, PASS)
    assert MARKER.encode() in parts["database"]


def _state(db: Path) -> tuple[object, ...]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return (
            conn.execute("PRAGMA integrity_check").fetchone()[0],
            conn.execute("SELECT count(*), max(id), sum(length(data)) FROM events").fetchone(),
            conn.execute("SELECT count(*) FROM fills").fetchone()[0],
            conn.execute("SELECT group_concat(total) FROM balances ORDER BY asset").fetchone(),
        )
    finally:
        conn.close()


def test_a_restore_killed_midway_leaves_the_target_untouched(tmp_path, paper_db):
    cfg, db = paper_db()
    _pad_events(db, 60_000)
    out = tmp_path / "tg.tgb"
    env = _env(**{PASSPHRASE_ENV: PASS})
    assert subprocess.run([EXE, "backup", "--db", f"sqlite:///{db}", "--out", str(out)],
                          env=env, timeout=300).returncode == 0  # fmt: skip
    _pad_events(db, 10)  # the target differs from the backup
    before = _state(db)
    argv = [EXE, "restore", "--in", str(out), "--db", f"sqlite:///{db}", "--config", cfg]
    argv.append("--force")
    # Killed while decrypting into its private copy, then while replacing the tables.
    _kill_when(argv, lambda: any(_plain(p) for p in _temp_files(tmp_path)), env)
    assert _state(db) == before
    wal = Path(f"{db}-wal")
    _kill_when(argv, lambda: _size(wal) > 4 << 20, env)  # uncommitted rows spill to the WAL
    assert _state(db) == before
    left = [p for p in _temp_files(tmp_path) if _plain(p)]
    assert left and all(p.stat().st_mode & 0o777 == 0o600 for p in left)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _state(db) != before and _state(db)[1][0] == before[1][0] - 10
    assert _temp_files(tmp_path) == []


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _limited(max_file_bytes: int) -> Callable[[], None]:
    """A child's file-size limit: a write beyond it fails (EFBIG), as on a full disk."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))


def test_a_backup_or_restore_that_cannot_write_says_so_and_leaves_nothing(tmp_path, paper_db):
    cfg, db = paper_db(500)
    _pad_events(db, 3000)  # a few MB
    env = _env(**{PASSPHRASE_ENV: PASS})
    out = tmp_path / "backups" / "tg.tgb"
    out.parent.mkdir()  # backup --out makes no folder
    argv = [EXE, "backup", "--db", f"sqlite:///{db}", "--out", str(out)]
    size = db.stat().st_size
    # The database's copy does not fit; then the copy fits and the backup file does not.
    for limit, message in ((size // 2, "cannot copy SQLite database"),
                           (size + 100, "cannot write backup")):  # fmt: skip
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                              preexec_fn=_limited(limit))  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert not out.exists() and _temp_files(out.parent) == []
    assert subprocess.run(argv, env=env, timeout=300).returncode == 0
    target = tmp_path / "restored.db"
    argv = [EXE, "restore", "--in", str(out), "--db", f"sqlite:///{target}", "--config", cfg]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited(size // 2))  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "cannot restore backup" in done.stderr and "File too large" in done.stderr
    assert "Traceback" not in done.stderr
    assert _temp_files(tmp_path) == [] and not target.exists()


def _fills(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM fills").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_a_backup_taken_while_a_node_writes_is_consistent(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv(PASSPHRASE_ENV, PASS)
    data = write_slice(data_dir, tmp_path / "btc.csv", 45_000)
    cfg = str(write_paper_toml(tmp_path, data, node_extra="replay_speed = 12000"))
    node = subprocess.Popen([EXE, "run", "--config", cfg, "--until-end"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        eventually(lambda: _fills(tmp_path / "tg.db") >= 6 or node.poll() is not None, 120)
        taken = []
        for i in range(3):
            out = tmp_path / f"live{i}.tgb"
            assert main(["backup", "--config", cfg, "--out", str(out)]) == 0
            taken.append((out, _fills(tmp_path / "tg.db")))
        assert node.poll() is None, "the node finished before the backups: nothing proven"
    finally:
        node.kill()
        node.wait()
    seen = 0
    for i, (out, fills_after) in enumerate(taken):
        target = tmp_path / f"restored{i}.db"
        assert (
            main(["restore", "--in", str(out), "--db", f"sqlite:///{target}", "--config", cfg]) == 0
        )
        restored = _fills(target)
        assert seen <= restored <= fills_after
        seen = restored


def test_the_passphrase_prompt_does_not_echo(tmp_path, paper_db):
    cfg, _ = paper_db(500)
    out = tmp_path / "prompted.tgb"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on a terminal of its own
        os.chdir(tmp_path)
        os.execve(str(EXE), [str(EXE), "backup", "--config", cfg, "--out", str(out)], _env())
    transcript = b""
    for prompt in (b"backup passphrase: ", b"repeat backup passphrase: "):
        transcript = _read_until(fd, transcript, prompt)
        os.write(fd, PASS.encode() + b"\n")
    transcript = _read_until(fd, transcript, None)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, transcript.decode(errors="replace")
    assert PASS.encode() not in transcript
    assert b"encrypted" in transcript
    info, parts = open_backup(out, PASS)
    assert info.dialect == "sqlite" and parts["database"]


def _read_until(fd: int, seen: bytes, wanted: bytes | None, timeout_s: float = 60) -> bytes:
    """Read the terminal until `wanted` appears after `seen` (None: until the child exits)."""
    start = len(seen)
    deadline = time.monotonic() + timeout_s
    while wanted is None or wanted not in seen[start:]:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r} on the terminal; got {seen[start:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            assert wanted is None, f"terminal closed before {wanted!r}; got {seen[start:]!r}"
            return seen
        seen += chunk
    return seen
