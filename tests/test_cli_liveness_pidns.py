"""`tradeguard status` tells a node in another PID namespace (a container on this hostname) from a
dead one: by the writer lock it holds, not by a pid that names nothing here."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from live_support import sandbox_toml, write_vault
from test_cli_sigterm import _kv
from tradeguard.sandbox.testing import seeded_exchange

EXE = Path(sys.executable).parent / "tradeguard"


def _free_pid() -> int:
    """A pid no process has here, for the node inside its own PID namespace."""
    for pid in range(30_000, 20_000, -1):
        if not Path(f"/proc/{pid}").exists() and not Path(f"/proc/{pid - 1}").exists():
            return pid
    raise AssertionError("no free pid found")


def _status(db: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(EXE), "status", "--db", f"sqlite:///{db}", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    heartbeat: dict[str, Any] = json.loads(done.stdout)["heartbeat"]
    return heartbeat


async def test_a_node_in_another_pid_namespace_is_beating_and_gone_once_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "unshare", "--pid", "--fork", "--mount-proc", "true"])
    if unshare is None or probe.returncode != 0:
        pytest.skip("cannot make a PID namespace here (unshare needs CAP_SYS_ADMIN)")
    write_vault(tmp_path, monkeypatch)
    db = tmp_path / "tg.db"
    async with seeded_exchange() as ex:
        config = sandbox_toml(tmp_path, ex, checkpoint_interval_s=0.2)
        pid = _free_pid()
        # Inside the namespace the node is the next pid after `pid - 1`: one nobody has here.
        script = (
            f'echo {pid - 1} > /proc/sys/kernel/ns_last_pid; "{EXE}" run --config "{config}" '
            "& wait $!"
        )
        proc = await asyncio.create_subprocess_exec(
            "unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", script,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            for _ in range(600):  # the live loop's first heartbeat
                beat = _kv(db, "node.heartbeat")
                if beat is not None or proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            assert proc.returncode is None, await proc.stderr.read()  # type: ignore[union-attr]
            assert isinstance(beat, dict) and beat["pid"] == pid
            assert not Path(f"/proc/{pid}").exists()  # its pid names nothing here
            running = await asyncio.to_thread(_status, db)
            proc.send_signal(signal.SIGKILL)  # --kill-child: the namespace dies with it
            await asyncio.wait_for(proc.wait(), 30)
            for _ in range(200):  # the kernel frees the lock as the node's process ends
                killed = await asyncio.to_thread(_status, db)
                if killed["state"] != "beating":
                    break
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert (running["state"], running["pid"]) == ("beating", pid), running
    assert killed["state"] == "gone" and killed["age_s"] < killed["limit_s"], killed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_writer_lock_held_tells_a_held_lock_from_a_free_one(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tradeguard.storage.lock import acquire_writer_lock, writer_lock_held

    url = (
        f"sqlite:///{tmp_path / 'a.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    assert writer_lock_held(url) is False  # no node ever wrote it
    lock = acquire_writer_lock(url)
    assert lock is not None
    try:
        assert writer_lock_held(url) is True
    finally:
        lock.release()
    assert writer_lock_held(url) is False
    again = acquire_writer_lock(url)  # the probe left nothing behind
    assert again is not None
    again.release()
