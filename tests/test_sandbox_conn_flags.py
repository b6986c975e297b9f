"""`tradeguard sandbox --head-timeout/--body-timeout/--idle-timeout/--max-connections` (and the
`sandbox.*` keys of `--config`): the connection limits of `sandbox/conn_guard.py`, which were
fixed at 10 s, 10 s, 75 s and 512 connections whatever the command line said. Out-of-range
values are one line naming the flag (or key), the value and the range, exit 2."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import pytest

from tradeguard.cli import main
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.conn_guard import ConnLimits
from tradeguard.sandbox.server import SandboxExchange


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--head-timeout", "0", "--head-timeout 0.0 is out of range; allowed 0.1..300 s"),
        ("--body-timeout", "301", "--body-timeout 301.0 is out of range; allowed 0.1..300 s"),
        ("--idle-timeout", "nan", "--idle-timeout nan is out of range; allowed 1..3600 s"),
        ("--max-connections", "0", "--max-connections 0 is out of range; allowed 1..100000"),
    ],
)
@pytest.mark.parametrize("dialect", ["binance", "polymarket"])
def test_a_connection_limit_out_of_range_is_one_line_naming_the_flag(
    capsys, flag, value, said, dialect
):
    code, err = _run(["sandbox", "--dialect", dialect, "--port", "0", flag, value], capsys)
    assert code == 2, err
    assert said in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_a_connection_limit_in_the_config_file_is_named_by_its_key(tmp_path, capsys):
    cfg = tmp_path / "sandbox.toml"
    cfg.write_text("[sandbox]\nidle_timeout_s = 0.5\n", encoding="utf-8")
    code, err = _run(["sandbox", "--port", "0", "--config", str(cfg)], capsys)
    assert code == 2
    assert "sandbox.idle_timeout_s=0.5 is out of range; allowed 1..3600 s" in err, err


def test_the_config_builds_the_servers_limits():
    config = SandboxConfig(
        head_timeout_s=1.5, body_timeout_s=2, idle_timeout_s=30, max_connections=9
    )
    assert SandboxExchange(config).limits == ConnLimits(1.5, 2, 30, 9)
    assert SandboxExchange().limits == ConnLimits()  # the defaults stand


async def _started(*args: str) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeguard.cli", "sandbox", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    url = line.split()[-1]  # "sandbox REST   http://127.0.0.1:PORT/..." or "polymarket URL"
    return proc, int(url.split(":")[2].split("/")[0])


async def _closed_after(port: int) -> tuple[float, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.monotonic()
    try:
        got = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    return time.monotonic() - t0, got


@pytest.mark.parametrize("dialect", ["binance", "polymarket"])
async def test_the_flags_reach_the_running_server(tmp_path: Path, dialect: str):
    proc, port = await _started(
        "--dialect", dialect, "--keys-file", str(tmp_path / "keys.json"),
        "--head-timeout", "0.5", "--max-connections", "2",
    )  # fmt: skip
    try:
        took, got = await _closed_after(port)  # sends nothing: the head deadline
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        over_r, over_w = await asyncio.open_connection("127.0.0.1", port)
        over = await asyncio.wait_for(over_r.read(), 10)
        for _, w in [*held, (over_r, over_w)]:
            w.close()
    finally:
        proc.terminate()
        with contextlib.suppress(ProcessLookupError):
            await asyncio.wait_for(proc.wait(), 10)
    assert got.startswith(b"HTTP/1.1 408 "), got
    assert b"within 0.5 s" in got
    assert took < 5.0, took  # was 10 s (the default); a loaded machine may add seconds
    assert over.startswith(b"HTTP/1.1 503 ") and b"2 connections already open" in over, over
