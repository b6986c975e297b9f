"""Files named in a config are taken from the config file's folder, not the working directory;
a missing one is a one-line error naming the key, the value and the path looked at."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import run_cli
from tradeguard.cli.config_cmd import check_config
from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError
from tradeguard.strategies.base import create
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXE = Path(sys.executable).parent / "tradeguard"


def _pm_config(folder: Path, map_value: str = "pm_map.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "pm_map.toml", folder / "pm_map.toml")
    text = (EXAMPLES / "pm_arb_sandbox.toml").read_text()
    assert 'map = "pm_map.toml"' in text
    cfg = folder / "pm.toml"
    cfg.write_text(text.replace('map = "pm_map.toml"', f"map = {map_value!r}"))
    return cfg


def test_the_market_map_is_read_next_to_the_config_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _pm_config(tmp_path / "conf")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    config = load_config(cfg)
    sc = config.strategies[0]
    strat = create(sc.kind, sc.id, sc.venue, sc.symbol, dict(sc.params), config.source_dir)

    assert isinstance(strat, CrossVenueStrategy)
    assert strat.market_map.source == str(tmp_path / "conf" / "pm_map.toml")
    assert [p for p in check_config(config) if p.startswith("strategies")] == []


def test_a_missing_market_map_names_the_param_and_the_path_it_looked_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _pm_config(tmp_path / "conf", "maps/pm_map.toml")

    monkeypatch.chdir(tmp_path)
    checked = run_cli(capsys, "config", "check", str(cfg))

    assert checked.returncode != 0
    assert "Traceback" not in checked.stderr
    looked = tmp_path / "conf" / "maps" / "pm_map.toml"
    expected = (
        f"strategies[pmarb]: strategy param map = 'maps/pm_map.toml': no file at {looked} "
        "(a relative path is taken from the config file's folder"
    )
    assert expected in " ".join((checked.stdout + checked.stderr).split())


def test_tls_files_are_taken_from_the_config_folder_and_a_missing_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "cert.pem").write_text("cert")
    cfg = conf / "tg.toml"
    cfg.write_text('[api]\ntls_certfile = "cert.pem"\ntls_keyfile = "key.pem"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(cfg)

    assert config.file_path("api.tls_certfile", "cert.pem") == conf / "cert.pem"
    with pytest.raises(ConfigError) as err:
        config.file_path("api.tls_keyfile", "key.pem")
    assert str(err.value) == (
        f"api.tls_keyfile = 'key.pem': no file at {conf / 'key.pem'} (a relative path is taken "
        "from the config file's folder; give a path from there or an absolute one)"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("tls_certfile", "api.tls_keyfile = None: Value error, missing: api.tls_certfile = "
         "'tls.pem' needs its key file; set both"),
        ("tls_keyfile", "api.tls_keyfile = 'tls.pem': Value error, api.tls_certfile is missing; "
         "set both or neither"),
    ],
)  # fmt: skip
def test_half_a_tls_pair_is_refused_naming_the_missing_key(
    tmp_path: Path,
    given: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One of the two used to serve plain HTTP (a warning at most) while `status` asked https.
    cfg = tmp_path / "tg.toml"
    cfg.write_text(f'[api]\nhost = "0.0.0.0"\n{given} = "tls.pem"\n')
    monkeypatch.chdir(tmp_path)
    checked = run_cli(capsys, "config", "check", str(cfg))
    out = " ".join((checked.stdout + checked.stderr).split())
    assert checked.returncode != 0
    assert expected in out
    assert "Traceback" not in out


@pytest.mark.parametrize("cert", ["missing.pem", "folder", "junk.pem"])
def test_config_check_refuses_tls_files_run_would_refuse(
    tmp_path: Path, cert: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`config check` said "valid" for TLS files that are not there, a folder or no PEM at
    all, which `run` and `serve` then refused at start."""
    conf = tmp_path / "conf"
    (conf / "folder").mkdir(parents=True)
    (conf / "key.pem").write_text("key")
    (conf / "junk.pem").write_text("junk")
    cfg = conf / "tg.toml"
    cfg.write_text(f'[api]\ntls_certfile = "{cert}"\ntls_keyfile = "key.pem"\n')
    monkeypatch.chdir(tmp_path)
    checked = run_cli(capsys, "config", "check", str(cfg))
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "Traceback" not in checked.stderr
    if cert == "junk.pem":
        assert "api.tls_certfile = 'junk.pem', api.tls_keyfile = 'key.pem': " in checked.stderr
        assert "not a PEM certificate chain and its private key" in checked.stderr
    else:
        assert f"api.tls_certfile = '{cert}': no file at {conf / cert}" in checked.stderr


def test_a_tls_pair_that_is_no_pem_stops_run_as_a_config_error_not_a_port_in_use(
    tmp_path: Path,
) -> None:
    """`run` said "the API could not start on 127.0.0.1:PORT: [SSL] PEM lib (_ssl.c:3905); pick
    another port (api.port) or stop what uses it", exit 1: the files were at fault, not a port."""
    (tmp_path / "cert.pem").write_text("junk")
    (tmp_path / "key.pem").write_text("junk")
    text = (EXAMPLES / "paper.toml").read_text()
    cfg = tmp_path / "tg.toml"
    api = '[api]\nenabled = true\nport = 0\ntls_certfile = "cert.pem"\ntls_keyfile = "key.pem"\n'
    cfg.write_text(text + api)
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    done = subprocess.run(
        [str(EXE), "run", "--config", str(cfg)], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, check=False, env={"PATH": "/usr/bin:/bin", "TG_DATA_DIR": str(data)},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "port" not in done.stderr, done.stderr
    assert "not a PEM certificate chain and its private key" in done.stderr


def test_config_check_refuses_a_certificate_that_is_no_pem_beside_an_encrypted_key(
    tmp_path: Path,
) -> None:
    """With a passphrase-protected key the pair cannot load before the server asks for it, so
    the certificate was not read at all: a junk one passed `config check`."""
    (tmp_path / "key.pem").write_text(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0w\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    (tmp_path / "cert.pem").write_text("junk")
    cfg = tmp_path / "tg.toml"
    cfg.write_text('[api]\ntls_certfile = "cert.pem"\ntls_keyfile = "key.pem"\n')

    problems = check_config(load_config(cfg, environ={}))

    assert len(problems) == 1, problems
    assert "api.tls_certfile = 'cert.pem', api.tls_keyfile = 'key.pem': " in problems[0]
    assert "not a PEM certificate chain" in problems[0]
