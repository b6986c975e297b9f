"""The sandbox's demo account keeps its key pair across starts; the README's path repeats."""

from __future__ import annotations

import io
import json
import signal
import stat
import subprocess
import sys
from pathlib import Path

from tradeguard.cli import main
from tradeguard.cli.keys import KeysIO, run_keys

EXE = Path(sys.executable).parent / "tradeguard"
PASS = "correct horse battery staple"


def _start_sandbox(cwd: Path, *extra: str) -> dict[str, str]:
    """Start `tradeguard sandbox`, read its banner up to the keys line, stop it; return fields."""
    proc = subprocess.Popen(
        [str(EXE), "sandbox", "--port", "0", *extra],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    banner: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.partition("  ")
            banner[key.strip()] = value.strip()
            if key.startswith("demo keys"):
                break
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "demo api key" in banner, err
    assert "Traceback" not in err
    return banner


def test_every_sandbox_start_answers_to_the_same_demo_key_pair(tmp_path):
    first = _start_sandbox(tmp_path)
    keys_file = tmp_path / "tradeguard-sandbox-keys.json"
    assert first["demo keys"].startswith("new pair saved to")
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    second = _start_sandbox(tmp_path)
    assert second["demo keys"].startswith("same pair as before")
    assert (second["demo api key"], second["demo secret"]) == (
        first["demo api key"],
        first["demo secret"],
    )
    stored = json.loads(keys_file.read_text())
    assert stored == {"api_key": first["demo api key"], "secret": first["demo secret"]}


def test_keys_file_flag_picks_another_pair(tmp_path):
    default = _start_sandbox(tmp_path)
    other = _start_sandbox(tmp_path, "--keys-file", str(tmp_path / "b" / "keys.json"))
    assert other["demo api key"] != default["demo api key"]


def test_adding_the_sandbox_keys_twice_is_repeatable(tmp_path):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"api_key": "a" * 64, "secret": "b" * 64}))
    argv = ["keys", "add", "sandbox-main", "--venue", "binance", "--stdin"]
    argv += ["--vault", str(tmp_path / "vault.json")]
    outs = []
    for _ in range(2):
        out, err = io.StringIO(), io.StringIO()
        kio = KeysIO(
            env={"TG_MASTER_PASSPHRASE": PASS}, stdin=io.StringIO(keys_file.read_text()),
            stdout=out, stderr=err,
        )  # fmt: skip
        assert run_keys(argv, kio) == 0, err.getvalue()
        outs.append(out.getvalue())
    assert "stored sandbox-main" in outs[0]
    assert "already holds these credentials" in outs[1]


def test_other_values_for_an_entry_name_the_overwrite_flag(tmp_path):
    argv = ["keys", "add", "s", "--venue", "binance", "--stdin", "--vault", str(tmp_path / "v")]
    for secret in ("b" * 64, "c" * 64):
        err = io.StringIO()
        kio = KeysIO(
            env={"TG_MASTER_PASSPHRASE": PASS},
            stdin=io.StringIO(json.dumps({"api_key": "a" * 64, "secret": secret})),
            stdout=io.StringIO(), stderr=err,
        )  # fmt: skip
        code = run_keys(argv, kio)
    assert code == 1
    message = err.getvalue()
    assert "tradeguard keys add s --venue binance --overwrite" in message
    assert "overwrite=True" not in message


def test_sandbox_errors_name_the_flag_given(capsys):
    assert main(["sandbox", "--arb-drift", "5"]) == 2
    err = capsys.readouterr().err
    assert "--arb-drift 5 is out of range" in err and "arb_drift_every_ms" not in err


def test_a_sandbox_that_cannot_bind_its_port_writes_no_keys_and_says_why_in_one_line(tmp_path):
    import socket

    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    try:
        for dialect in ("binance", "kalshi", "polymarket"):
            keys_file = tmp_path / f"{dialect}-keys.json"
            proc = subprocess.run(
                [str(EXE), "sandbox", "--dialect", dialect, "--port", str(port),
                 "--keys-file", str(keys_file)],
                cwd=tmp_path, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            err = proc.stderr.strip()
            assert proc.returncode == 1, (dialect, err)  # outside the input, as the README says
            assert not keys_file.exists(), f"{dialect} wrote its keys though it never started"
            assert "Traceback" not in err and len(err.splitlines()) == 1, err
            assert f"127.0.0.1:{port}" in err and "in use" in err, err
            assert "demo" not in proc.stdout, proc.stdout
    finally:
        held.close()
    assert list(tmp_path.iterdir()) == []


def test_the_banner_fits_80_columns_and_its_keys_command_pastes_whole(tmp_path):
    import re

    from pty_support import PtySession

    session = PtySession([str(EXE), "sandbox", "--port", "0", "--arb-drift", "500"], cwd=tmp_path)
    banner = session.expect("< tradeguard-sandbox-keys.json\r\n", timeout_s=120)
    session.type(b"\x03")
    code, rest = session.finish()
    assert code == 130 and "Traceback" not in rest, rest  # Ctrl-C, as every command
    lines = banner.split("\r\n")
    assert max(len(line) for line in lines) <= 80, banner
    labels = r"sandbox REST|sandbox WS|sandbox WS-API|admin|arb drift|house refill|demo \w+ ?\w*"
    # a label, or a value folded under its field: never a value's tail at column 0
    assert all(re.match(rf"^(({labels}) +\S| +\S|$)", line) for line in lines), banner
    # the command, its continuation joined, is the README's
    command = " ".join(line.strip().rstrip("\\").strip() for line in lines[-3:-1])
    assert command == (
        "tradeguard keys add sandbox-main --venue binance --stdin < tradeguard-sandbox-keys.json"
    ), banner


def test_a_folder_given_as_a_sandbox_file_is_named_as_one_and_never_to_be_deleted(tmp_path):
    """`--keys-file /tmp` was "not a sandbox keys file ...; delete it to make a new pair", and
    `--log-requests /tmp` a bare "/tmp: Is a directory" with exit 1: both are bad arguments."""
    (tmp_path / "sub").mkdir()
    for flag, value in [("--keys-file", "sub"), ("--keys-file", ""), ("--log-requests", "sub")]:
        proc = subprocess.run(
            [str(EXE), "sandbox", "--port", "0", flag, value],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        err = proc.stderr.strip()
        assert proc.returncode == 2, (flag, value, err)
        assert "Traceback" not in err and len(err.splitlines()) == 1, err
        assert err.startswith(f"tradeguard: {flag} "), err
        assert "is a folder" in err and "delete" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
    assert list((tmp_path / "sub").iterdir()) == []
