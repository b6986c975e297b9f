"""A config's paths take `~` as the home folder, as a shell does: `kill_sentinel = "~/x"` was
watched (and written by `tradeguard kill`) at ./~/x, a folder named "~" in the working folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.apiconfig import ApiConfig
from tradeguard.config import NodeConfig
from tradeguard.venues.uniswap_v2.config import DexVenueConfig


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_kill_sentinel_takes_tilde_as_the_home_folder(home: Path) -> None:
    assert NodeConfig(kill_sentinel="~/run/tg.kill").kill_sentinel == str(home / "run/tg.kill")
    assert NodeConfig(kill_sentinel="tg.kill").kill_sentinel == "tg.kill"  # relative stays
    (home / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="names a folder"):
        NodeConfig(kill_sentinel="~/sub")


def test_other_path_fields_take_tilde_as_the_home_folder(home: Path) -> None:
    api = ApiConfig(tls_certfile="~/tls/cert.pem", tls_keyfile="~/tls/key.pem")
    assert (api.tls_certfile, api.tls_keyfile) == (str(home / "tls/cert.pem"),
                                                   str(home / "tls/key.pem"))  # fmt: skip
    dex = DexVenueConfig(deployment_file="~/chain/deployment.json")
    assert dex.deployment_file == str(home / "chain/deployment.json")
    assert NodeConfig(backup_dir="~/backups").backup_dir == str(home / "backups")


def test_a_tilde_of_no_such_user_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="~nosuchuser8x: no such user's home folder"):
        NodeConfig(kill_sentinel="~nosuchuser8x/tg.kill")


def test_the_vault_path_variable_takes_tilde_as_the_home_folder(home: Path) -> None:
    from tradeguard.secrets.vault import default_vault_path

    # a service's environment file is read by no shell: nothing expanded it before
    assert default_vault_path({"TG_VAULT_PATH": "~/v.json"}) == home / "v.json"


def test_an_sqlite_database_url_takes_tilde_as_the_home_folder(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from tradeguard.storage.db import Database

    monkeypatch.chdir(tmp_path)
    home.mkdir()
    # before: the file was made in the home folder, then SQLite opened ./~/tg.db and failed
    # ("cannot connect to database sqlite:///~/tg.db: unable to open database file")
    db = Database("sqlite:///~/tg.db")
    try:
        with db.engine.connect() as conn:
            files = [row[2] for row in conn.execute(text("PRAGMA database_list"))]
        assert files == [str(home / "tg.db")]
        assert not (tmp_path / "~").exists()
    finally:
        db.dispose()


def test_a_backup_finds_the_vault_tg_vault_path_names_under_tilde(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradeguard.cli.backup import _vault_to_include

    home.mkdir()
    (home / "v.json").write_text("{}")
    monkeypatch.setenv("TG_VAULT_PATH", "~/v.json")
    # before: "vault ~/v.json (from TG_VAULT_PATH) does not exist", the node's vault left out
    assert _vault_to_include(None) == home / "v.json"


def test_a_vault_path_of_no_such_users_home_is_refused_naming_the_variable() -> None:
    from tradeguard.secrets.vault import VaultError, default_vault_path

    # before: taken as ./~nosuchuser8x/v.json, a vault made in the working folder
    with pytest.raises(VaultError, match=r"TG_VAULT_PATH=~nosuchuser8x/v\.json: .*no such user"):
        default_vault_path({"TG_VAULT_PATH": "~nosuchuser8x/v.json"})
