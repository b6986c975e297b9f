"""`node.database_url` must name a durable database: an SQLite URL with no file (`sqlite://`,
`sqlite:///`, `:memory:`) ran a whole node in memory, so a crash lost its journal and a second
run started over, and one naming a folder passed `config check` and then failed the run with
"check that the server is running"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tradeguard.config import NodeConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXE = Path(sys.executable).parent / "tradeguard"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
URLS = ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///file::memory:?uri=true",
        "sqlite:///sub", "sqlite:///sub/"]  # fmt: skip


@pytest.mark.parametrize("command", [["config", "check"], ["run", "--until-end", "--config"]])
@pytest.mark.parametrize("url", URLS)
def test_a_database_url_naming_no_file_is_refused_before_a_run(
    tmp_path: Path, command: list[str], url: str
) -> None:
    (tmp_path / "sub").mkdir()
    text = (EXAMPLES / "paper.toml").read_text()
    assert 'database_url = "sqlite:///tradeguard.db"' in text
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace("sqlite:///tradeguard.db", url))

    done = subprocess.run(
        [str(EXE), *command, str(cfg)], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, check=False, env={"PATH": "/usr/bin:/bin", "TG_DATA_DIR": str(DATA)},
    )  # fmt: skip

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "node.database_url" in done.stderr
    assert "file" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "sub"]


@pytest.mark.parametrize("url", ["sqlite:///tg.db", "sqlite:////tmp/x/tg.db", "sqlite:///~/tg.db"])
def test_a_file_url_is_taken(url: str) -> None:
    assert NodeConfig(database_url=url).database_url == url


def test_a_home_folder_of_no_user_is_a_config_error_not_a_traceback(tmp_path: Path) -> None:
    """`sqlite:///~nosuchuser/tg.db` ended `config check` in a RuntimeError traceback (exit 1):
    the folder check expanded a `~user` the system does not know."""
    from tradeguard.config import load_config
    from tradeguard.model.errors import ConfigError

    cfg = tmp_path / "c.toml"
    cfg.write_text('[node]\ndatabase_url = "sqlite:///~tg-no-such-user/tg.db"\n')

    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})

    said = str(err.value)
    assert "node.database_url" in said and "~tg-no-such-user" in said, said
    assert "no such user" in said, said
