"""`node.kill_sentinel` names a file: an empty value or a folder is refused before a node starts,
never taken as the kill file (an empty one resolved to the working folder, which the node's
first poll renamed away and then crashed on)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXE = Path(sys.executable).parent / "tradeguard"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _config(folder: Path, sentinel: str) -> Path:
    text = (EXAMPLES / "paper.toml").read_text()
    assert 'kill_sentinel = "tradeguard.kill"' in text
    cfg = folder / "c.toml"
    line = f"kill_sentinel = {sentinel!r}"
    cfg.write_text(text.replace('kill_sentinel = "tradeguard.kill"', line))
    return cfg


@pytest.mark.parametrize("command", [["config", "check"], ["run", "--until-end", "--config"]])
@pytest.mark.parametrize("sentinel", ["", ".", "sub", "sub/"])
def test_a_kill_sentinel_that_names_no_file_is_refused_and_no_folder_moves(
    tmp_path: Path, command: list[str], sentinel: str
) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    cfg = _config(work, sentinel)

    done = subprocess.run(
        [str(EXE), *command, str(cfg)], cwd=work, capture_output=True, text=True,
        timeout=300, check=False, env={"PATH": "/usr/bin:/bin", "TG_DATA_DIR": str(DATA)},
    )  # fmt: skip

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "node.kill_sentinel" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert (work / "sub").is_dir()
    assert not (work / "tradeguard.db").exists()


def test_kill_reaches_a_sentinel_whose_folder_is_not_there_yet(tmp_path: Path, data_dir) -> None:
    """A kill file in a folder nobody made (`kill_sentinel = "run/tg.kill"`) was taken by
    config check and watched by the node, but `tradeguard kill` failed "No such file or
    directory" (exit 1): the kill switch could not be pulled."""
    from node_support import write_paper_toml, write_slice
    from tradeguard.cli import main
    from tradeguard.storage.lock import acquire_writer_lock

    cfg = write_paper_toml(tmp_path, write_slice(data_dir, tmp_path / "btc.csv", 100))
    sentinel = tmp_path / "later" / "tg.kill"
    text = cfg.read_text()
    assert f'kill_sentinel = "{tmp_path / "tg.kill"}"' in text
    cfg.write_text(text.replace(str(tmp_path / "tg.kill"), str(sentinel)))
    assert main(["run", "--config", str(cfg), "--until-end", "--json"]) == 0
    lock = acquire_writer_lock(f"sqlite:///{tmp_path / 'tg.db'}")  # a node runs on it
    assert lock is not None
    try:
        assert main(["kill", "--config", str(cfg), "--reason", "drill", "--json"]) == 0
    finally:
        lock.release()

    assert "drill" in sentinel.read_text()


def test_a_home_kill_file_is_the_nodes_whatever_home_the_kill_runs_with(
    tmp_path: Path, data_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`~` is `$HOME` of the process reading the config: under `sudo` keeping another `$HOME`
    the kill would name another file. The node records the file it watches and `kill` writes
    that one, so the kill still reaches it; the other home gets nothing."""
    from node_support import write_paper_toml, write_slice
    from tradeguard.cli import main
    from tradeguard.storage.lock import acquire_writer_lock

    node_home, other_home = tmp_path / "node-home", tmp_path / "other-home"
    node_home.mkdir()
    other_home.mkdir()
    cfg = write_paper_toml(tmp_path, write_slice(data_dir, tmp_path / "btc.csv", 100))
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "tg.kill"), "~/tg.kill"))
    monkeypatch.setenv("HOME", str(node_home))
    assert main(["run", "--config", str(cfg), "--until-end", "--json"]) == 0
    monkeypatch.setenv("HOME", str(other_home))  # `sudo tradeguard kill`, the caller's $HOME
    lock = acquire_writer_lock(f"sqlite:///{tmp_path / 'tg.db'}")  # a node runs on it
    assert lock is not None
    try:
        assert main(["kill", "--config", str(cfg), "--reason", "drill", "--json"]) == 0
    finally:
        lock.release()
    assert "drill" in (node_home / "tg.kill").read_text()
    assert not (other_home / "tg.kill").exists()
