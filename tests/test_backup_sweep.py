"""The sweep of plaintext copies a kill left, and a restore's or backup's temporary folder:
liveness by lock across PID namespaces, other users' files, folders that cannot hold a copy."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_backup_process import (
    EXE,
    PASS,
    _env,
    _kill_when,
    _pad_events,
    _plain,
    _temp_files,
)
from tradeguard.secrets.backup_file import PASSPHRASE_ENV
from tradeguard.storage import Database
from tradeguard.storage.scratch import new_scratch_file, remove_orphans, remove_scratch

pytest_plugins = ["storage_fixtures", "backup_fixtures"]  # storage_pg_url, paper_db
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (unshare, setpriv, chown)")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
FORMAT1 = Path(__file__).parent / "data" / "backup-format1.tgb"
FORMAT1_PASS = "format one backup passphrase"

SWEEPER = (
    "import sys; from pathlib import Path; from tradeguard.storage.scratch import remove_orphans; "
    "print([p.name for p in remove_orphans(Path(sys.argv[1]))])"
)


def _sweep_elsewhere(folder: Path, *prefix: str) -> str:
    """Sweep `folder` from another process (in another PID namespace with `unshare`)."""
    argv = [*prefix, sys.executable, "-c", SWEEPER, str(folder)]
    done = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


SWEEP_ON_CUE = (
    "import sys; from pathlib import Path; from tradeguard.storage.scratch import remove_orphans; "
    "sys.stdin.readline(); print([p.name for p in remove_orphans(Path(sys.argv[1]))])"
)


def _sweeper_on_cue(folder: Path, *prefix: str) -> subprocess.Popen[str]:
    """A sweeper of `folder` started now, sweeping once a line reaches its stdin."""
    argv = [*prefix, sys.executable, "-c", SWEEP_ON_CUE, str(folder)]
    return subprocess.Popen(argv, env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _sweep_now(sweeper: subprocess.Popen[str]) -> str:
    stdout, stderr = sweeper.communicate("go\n", timeout=60)
    assert sweeper.returncode == 0, stderr
    return stdout.strip()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def shared_tmp() -> Iterator[tuple[Path, Path]]:
    """A sticky folder like /tmp holding root's killed restore's copy, and a folder of nobody's."""
    folder = Path(tempfile.mkdtemp(prefix="tg-shared-"))
    folder.chmod(0o1777)
    theirs = folder / f".tradeguard-restore.plain-{_dead_pid()}-ab12.tmp"
    theirs.write_bytes(b"root's plaintext copy")
    theirs.chmod(0o600)
    mine = folder / "nobody"
    mine.mkdir()
    os.chown(mine, 65534, 65534)
    yield folder, mine
    shutil.rmtree(folder)


def test_the_sweep_removes_unheld_copies_whatever_their_pid_and_keeps_held_ones(tmp_path):
    held = new_scratch_file(tmp_path, "tg.tgb")
    Path(f"{held}-journal").write_bytes(b"side file")
    # Left by SIGKILLed processes: one with this process's pid (a container's node is PID 1 at
    # every start), one with a pid that no longer runs, one with PID 1.
    stale = [tmp_path / f".tg.tgb.plain-{pid}-ab12.tmp" for pid in (os.getpid(), _dead_pid(), 1)]
    for path in stale:
        path.write_bytes(b"the whole journal in the clear")
    Path(f"{stale[0]}-wal").write_bytes(b"its WAL")
    other = tmp_path / "keep.plain-1-x.tmp"  # not a scratch name: never touched
    other.write_bytes(b"")
    try:
        assert sorted(remove_orphans(tmp_path)) == sorted(stale)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [held.name, f"{held.name}-journal", other.name]
        )
        # Held by this process, so never swept: from here, nor from another PID namespace where
        # this process's pid does not exist (or is another process's).
        assert remove_orphans(tmp_path) == []
        if os.geteuid() == 0:
            assert _sweep_elsewhere(tmp_path, "unshare", "--pid", "--fork") == "[]"
        assert held.exists()
    finally:
        remove_scratch(held)
    assert not held.exists() and not Path(f"{held}-journal").exists()
    assert [p.name for p in tmp_path.iterdir()] == [other.name]


@AS_ROOT
def test_the_sweep_leaves_other_users_files_links_and_folders_alone(shared_tmp):
    tmp_path = shared_tmp[0] / "shared"  # sticky, like /tmp, and open to every user
    tmp_path.mkdir()
    tmp_path.chmod(0o1777)
    theirs = tmp_path / f".tradeguard-restore.plain-{_dead_pid()}-ab12.tmp"
    theirs.write_bytes(b"another user's copy")
    os.chown(theirs, 65534, 65534)
    folder = tmp_path / ".x.plain-1-dir.tmp"
    folder.mkdir()
    target = tmp_path / "precious.db"
    target.write_bytes(b"not a scratch file")
    link = tmp_path / ".x.plain-1-link.tmp"
    link.symlink_to(target)
    assert remove_orphans(tmp_path) == []
    assert theirs.exists() and folder.is_dir() and link.is_symlink() and target.exists()
    # As that other user: root's files are not swept, nor an error; that user's own are.
    mine = tmp_path / f".tg.plain-{_dead_pid()}-cd34.tmp"
    mine.write_bytes(b"root's copy")
    mine.chmod(0o600)
    assert _sweep_elsewhere(tmp_path, *NOBODY) == f"[{theirs.name!r}]"
    assert mine.exists() and not theirs.exists()


@AS_ROOT
def test_a_backup_killed_in_a_pid_namespace_leaves_a_copy_the_next_one_sweeps(tmp_path, paper_db):
    _, db = paper_db()
    _pad_events(db, 60_000)
    out = tmp_path / "backups" / "tg.tgb"
    out.parent.mkdir()  # backup --out makes no folder
    env = _env(**{PASSPHRASE_ENV: PASS})
    # The backup is PID 1 of its namespace, as a node in a container is at every start.
    argv = ["unshare", "--pid", "--fork", "--kill-child", str(EXE), "backup"]
    argv += ["--db", f"sqlite:///{db}", "--out", str(out)]
    _kill_when(argv, lambda: any(_plain(p) for p in _temp_files(db.parent)), env)
    left = [p for p in _temp_files(db.parent) if _plain(p)]
    assert left and all(".plain-1-" in p.name for p in left)
    done = subprocess.run(argv, env=env, timeout=300)  # PID 1 again
    assert done.returncode == 0
    assert [p for p in _temp_files(db.parent) if _plain(p)] == []
    assert out.exists()


def _events(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


@AS_ROOT
def test_a_sweep_from_another_pid_namespace_leaves_a_running_restores_copy(tmp_path, paper_db):
    cfg, db = paper_db()
    _pad_events(db, 60_000)
    out = tmp_path / "tg.tgb"
    env = _env(**{PASSPHRASE_ENV: PASS})
    made = [str(EXE), "backup", "--db", f"sqlite:///{db}", "--out", str(out)]
    assert subprocess.run(made, env=env, timeout=300).returncode == 0
    before = _events(db)
    argv = [str(EXE), "restore", "--in", str(out), "--db", f"sqlite:///{db}", "--config", cfg]
    for _ in range(5):
        # A node's scheduled backup in a container sharing the folder sweeps it: the restore's
        # pid does not exist in its namespace. The sweeper starts (an interpreter's imports)
        # before the restore and sweeps on cue, so the race is the sweep's, not its start-up's.
        sweeper = _sweeper_on_cue(tmp_path, "unshare", "--pid", "--fork")
        restore = subprocess.Popen([*argv, "--force"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        while not any(_plain(p) for p in _temp_files(tmp_path)) and restore.poll() is None:
            time.sleep(0.001)  # not a busy loop: the restore needs the core
        swept = _sweep_now(sweeper)
        running = restore.poll() is None
        stdout, stderr = restore.communicate(timeout=300)
        if running:
            break
    assert running, "the restore ended before the sweep: nothing proven"
    assert swept == "[]"
    assert restore.returncode == 0, stdout + stderr
    assert _events(db) == before


def test_a_backup_of_a_database_in_a_missing_folder_names_the_database(tmp_path):
    env = _env(**{PASSPHRASE_ENV: PASS})
    missing = tmp_path / "typo" / "tg.db"
    argv = [str(EXE), "backup", "--db", f"sqlite:///{missing}", "--out", str(tmp_path / "b.tgb")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"no SQLite database at {missing}; check --db" in done.stderr, done.stderr
    assert not (tmp_path / "typo").exists() and not (tmp_path / "b.tgb").exists()


@AS_ROOT
def test_a_restore_into_a_read_only_folder_says_so(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    script = (f"mount -t tmpfs -o ro,size=1m tmpfs {ro} && exec {EXE} restore --in {FORMAT1} "
              f"--db sqlite:///{ro}/r.db")  # fmt: skip
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                          env=_env(**{PASSPHRASE_ENV: FORMAT1_PASS}), timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot create the temporary copy of the database in {ro}" in done.stderr
    assert "Read-only file system" in done.stderr


def test_a_bad_vault_out_is_refused_before_the_database_is_touched(tmp_path):
    (tmp_path / "afile").write_text("")
    target = tmp_path / "r.db"
    env = _env(**{PASSPHRASE_ENV: FORMAT1_PASS})
    for bad in (tmp_path / "afile" / "vault.json", tmp_path):
        argv = [str(EXE), "restore", "--in", str(FORMAT1), "--db", f"sqlite:///{target}",
                "--vault-out", str(bad), "--force"]  # fmt: skip
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and f"--vault-out {bad}" in done.stderr
        assert not target.exists()  # refused before the restore, not after it
        assert _temp_files(tmp_path) == []


@AS_ROOT
@pytest.mark.postgres
def test_another_users_copy_in_a_shared_tmpdir_stops_no_postgres_backup_or_restore(
    storage_pg_url, shared_tmp
):
    Database(storage_pg_url).migrate()
    folder, mine = shared_tmp
    backup = mine / "b.tgb"
    env = _env(**{PASSPHRASE_ENV: PASS, "TMPDIR": str(folder)})
    run = {"env": env, "capture_output": True, "text": True, "timeout": 300, "cwd": mine}
    argv = [*NOBODY, str(EXE), "backup", "--db", storage_pg_url, "--out", str(backup)]
    done = subprocess.run(argv, **run)  # type: ignore[call-overload]
    assert done.returncode == 0, done.stderr
    argv = [*NOBODY, str(EXE), "restore", "--in", str(backup), "--db", storage_pg_url, "--force"]
    done = subprocess.run(argv, **run)  # type: ignore[call-overload]
    # Restored (an empty journal: the audit then misses the default paper start balance).
    assert done.stdout.startswith("restored backup of "), done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr == ""
    assert len(list(folder.glob(".*.plain-*.tmp"))) == 1  # root's, left alone


def _pad_postgres(url: str, rows: int, pad: int = 600) -> None:
    db = Database(url)
    db.migrate()
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (ts, kind, severity, venue, symbol, strategy_id, data) "
            "SELECT g, 'padding', 'info', 'paper', 'BTC/USDT', '', "
            f"json_build_object('pad', md5(g::text) || repeat('x', {pad})) "
            f"FROM generate_series(1, {rows}) g"
        )
    db.dispose()


@AS_ROOT
@pytest.mark.postgres
def test_a_full_tmpdir_in_a_postgres_backup_names_tmpdir_not_the_database(tmp_path, storage_pg_url):
    _pad_postgres(storage_pg_url, 8000)
    small = tmp_path / "small"
    small.mkdir()
    out = tmp_path / "b.tgb"
    script = (
        f"mount -t tmpfs -o size=2m tmpfs {small} && "
        f"TMPDIR={small} exec {EXE} backup --db '{storage_pg_url}' --out {out}"
    )
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                          env=_env(**{PASSPHRASE_ENV: PASS}), timeout=300)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"cannot write the copy in {small}: database or disk is full" in done.stderr
    assert "cannot read database" not in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def _backup_peak_mib(url: str, out: Path) -> float:
    script = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    argv = [sys.executable, "-c", script, str(EXE), "backup", "--db", url, "--out", str(out)]
    done = subprocess.run(argv, env=_env(**{PASSPHRASE_ENV: PASS}), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1]) / 1024


@pytest.mark.postgres
def test_a_postgres_backups_memory_does_not_grow_with_the_journal(tmp_path, storage_pg_url):
    # Rows are streamed through a server-side cursor: fetched all at once, the 100 MB added
    # between the two backups would take several times that in memory.
    _pad_postgres(storage_pg_url, 2000, pad=2000)
    small = _backup_peak_mib(storage_pg_url, tmp_path / "small.tgb")
    _pad_postgres(storage_pg_url, 50_000, pad=2000)
    large = _backup_peak_mib(storage_pg_url, tmp_path / "large.tgb")
    assert (tmp_path / "large.tgb").stat().st_size > 100 << 20
    assert large < small + 32, (small, large)


def test_a_restore_refuses_an_image_removed_or_replaced_after_it_was_written(tmp_path):
    from tradeguard.cli.backup import _check_image
    from tradeguard.storage.errors import StorageError
    from tradeguard.storage.snapshot import opened_image

    image = new_scratch_file(tmp_path, "tradeguard-restore")
    try:
        image.write_bytes(b"x" * 4096)
        _check_image(image, 4096)
        with pytest.raises(StorageError, match="4,096 bytes, the backup's database 8,192"):
            _check_image(image, 8192)
        image.unlink()
        with pytest.raises(StorageError, match="removed or replaced by another process"):
            _check_image(image, 4096)
        # SQLite is never asked to create a missing image: it would pass the check, empty.
        with pytest.raises(StorageError, match="unable to open database file"), opened_image(image):
            pass
        assert not image.exists()
        image.write_bytes(b"x" * 4096)  # another file under the same name
        with pytest.raises(StorageError, match="another file is under its name"):
            _check_image(image, 4096)
    finally:
        remove_scratch(image)
