"""A replay's time shift (served, printed, applied to a calendar) and its speed changed live."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from cli_support import Done, run_cli
from tradeguard.cli.sandbox import serve
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually
from tradeguard.strategies.token_unlock.calendar import load_calendar

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "unlock_calendar.csv"


def _sandbox(data_dir: Path, speed: str = "1") -> SandboxExchange:
    eth = data_dir / "candles" / "ETH_BTC-5m.feather"
    return SandboxExchange(
        SandboxConfig(
            replay=[f"{eth}:ETH/BTC"], replay_speed=Decimal(speed), replay_history_bars=50
        )
    )


@pytest.fixture
def tg(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Done]:
    """`tradeguard ARGS...` run in-process from the folder `cwd`."""

    def run(*args: str, cwd: Path) -> Done:
        monkeypatch.chdir(cwd)
        return run_cli(capsys, *args)

    return run


async def test_admin_replay_serves_the_shift_that_maps_recorded_bars_to_played_ones(data_dir):
    async with _sandbox(data_dir) as ex, aiohttp.ClientSession() as s:
        async with s.get(f"{ex.base_url}/admin/replay") as resp:
            [doc] = (await resp.json())["replays"]
        replay = ex.replays[0]
        assert doc["symbol"] == "ETHBTC" and doc["history_bars"] == 50
        assert doc["first_played_recorded_ms"] == replay.bars[50].ts
        assert doc["first_played_ms"] == replay.bar_time(0)
        for k in (0, 7, 100):  # every played bar sits at its recorded time plus the shift
            assert replay.bars[50 + k].ts + doc["shift_ms"] == replay.bar_time(k)


async def test_a_new_speed_applies_from_the_next_step(data_dir):
    async with _sandbox(data_dir, speed="1") as ex, aiohttp.ClientSession() as s:
        replay = ex.replays[0]
        await asyncio.sleep(0.3)
        assert replay.played == 0  # at real time a 5-minute bar takes 5 minutes
        async with s.post(f"{ex.base_url}/admin/replay", json={"speed": "3000"}) as resp:
            assert resp.status == 200
            assert (await resp.json())["replays"][0]["speed"] == "3000"
        await eventually(lambda: replay.played >= 5, timeout_s=20)  # 0.1 s a bar now
        async with s.post(f"{ex.base_url}/admin/replay", json={"speed": "0"}) as resp:
            assert resp.status == 400
            assert "replay speed 0 is out of range" in (await resp.json())["error"]
        body = {"speed": "2", "symbol": "BTCUSDT"}
        async with s.post(f"{ex.base_url}/admin/replay", json=body) as resp:
            assert resp.status == 404


async def test_sandbox_start_up_prints_each_replays_time_shift(data_dir):
    out = io.StringIO()
    config = _sandbox(data_dir).config
    config.port = 0
    task = asyncio.create_task(serve(config, out))
    try:
        await eventually(lambda: "demo secret" in out.getvalue(), timeout_s=20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # the field folds at 80 columns, its value continued under itself on the lines below
    lines = out.getvalue().splitlines()
    at = next(i for i, x in enumerate(lines) if "time shift" in x)
    field = " ".join([lines[at], *(x.strip() for x in lines[at + 1 :] if x.startswith(" " * 15))])
    assert "ms: recorded 2018-01-10T" in field and "tradeguard calendar shift" in field


def test_calendar_check_lists_each_token_and_reports_bad_rows(tmp_path, tg):
    ok = tg("calendar", "check", str(EXAMPLE), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "6 unlocks, no bad rows" in ok.stdout and "ETH      2 unlocks" in ok.stdout
    assert "ADA      1 unlock, " in ok.stdout  # one unlock, not "1 unlocks"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "token,unlock_time_utc,amount,pct_of_supply,source_url\n"
        "ETH,2018-01-14T12:00:00Z,-1,3,https://example.com/a\n"
    )
    refused = tg("calendar", "check", str(bad), cwd=tmp_path)
    assert refused.returncode != 0
    assert "bad.csv line 2: amount = '-1': expected a number above 0" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_calendar_shift_by_ms_moves_every_unlock_and_keeps_the_original_time(tmp_path, tg):
    out = tmp_path / "moved.csv"
    day = 86_400_000
    run = tg("calendar", "shift", str(EXAMPLE), "--by-ms", str(day), "--out", str(out),
              cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    before, after = load_calendar(EXAMPLE), load_calendar(out)
    assert [e.unlock_ms + day for e in before] == [e.unlock_ms for e in after]
    assert [(e.token, e.amount, e.pct_of_supply, e.source_url) for e in before] == [
        (e.token, e.amount, e.pct_of_supply, e.source_url) for e in after
    ]
    assert after[0].note.endswith(f"[shifted {day} ms: was {before[0].when}]")
    again = tg("calendar", "shift", str(EXAMPLE), "--by-ms", "1", "--out", str(out), cwd=tmp_path)
    assert again.returncode != 0 and "pass --overwrite" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sandbox", "http://example.com:8765"], "expected the sandbox's loopback URL"),
        (["--sandbox", "http://127.0.0.1:9"], "cannot read http://127.0.0.1:9/admin/replay"),
        (["--by-ms", "5", "--symbol", "ETHBTC"], "--symbol goes with --sandbox"),
    ],
)
def test_calendar_shift_refuses_with_a_reason(tmp_path, args, message, tg):
    run = tg("calendar", "shift", str(EXAMPLE), *args, "--out", str(tmp_path / "x.csv"),
              cwd=tmp_path)  # fmt: skip
    assert run.returncode != 0 and message in run.stderr, run.stderr
    assert not (tmp_path / "x.csv").exists()


def test_the_rehearsal_example_config_checks_once_its_calendar_is_shifted(
    tmp_path, tg, monkeypatch
):
    import shutil

    from tradeguard.secrets.vault import ScryptParams, Vault

    examples = tmp_path / "examples"
    examples.mkdir()
    for name in ("token_unlock_sandbox.toml", "unlock_calendar.csv"):
        shutil.copy(ROOT / "examples" / name, examples / name)
    vault = Vault(tmp_path / "vault.json", kdf=ScryptParams(n=2**14))
    vault.create("pass phrase for the test")
    vault.add("sandbox-main", "binance", {"api_key": "k", "secret": "s"})  # the entry it names
    monkeypatch.setenv("TG_VAULT_PATH", str(tmp_path / "vault.json"))
    cmd = ["config", "check", "examples/token_unlock_sandbox.toml"]
    before = tg(*cmd, cwd=tmp_path)
    assert before.returncode != 0
    assert "strategy param calendar = 'rehearsal_calendar.csv': no file at" in before.stderr
    assert str(examples / "rehearsal_calendar.csv") in before.stderr
    shift = tg("calendar", "shift", "examples/unlock_calendar.csv", "--by-ms", "0",
                "--out", "examples/rehearsal_calendar.csv", cwd=tmp_path)  # fmt: skip
    assert shift.returncode == 0, shift.stderr
    after = tg(*cmd, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert "valid (sandbox mode, 1 venue(s), 1 strategy)" in after.stdout


async def test_a_new_speed_takes_effect_even_while_the_replay_is_behind_time() -> None:
    import asyncio
    import time
    from decimal import Decimal as Dec
    from types import SimpleNamespace

    from tradeguard.sandbox.replay import Replay

    played: list[float] = []

    def slow_step(k: int, part: int) -> None:
        played.append(time.monotonic())
        time.sleep(0.001)  # each step costs more than the speed allows: always behind

    fake = SimpleNamespace(
        bars=[None] * 100_000, history=1, interval_ms=60_000, speed=Dec(100_000), played=0,
        _speed_changed=asyncio.Event(), play_step=slow_step,
    )  # fmt: skip
    runner = asyncio.create_task(Replay.run(fake))  # type: ignore[arg-type]
    await asyncio.sleep(0.2)
    assert len(played) > 20  # racing through the bars
    Replay.set_speed(fake, Dec(1))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)  # the handler's turn: the loop is behind time
    changed_at = len(played)
    await asyncio.sleep(0.5)
    runner.cancel()
    # at 1x a step is 15 s apart: at most the one already due plays
    assert len(played) - changed_at <= 1, len(played) - changed_at


def test_files_of_one_start_time_share_one_shift_however_long_they_take_to_load(data_dir):
    # The worked example of docs/token_unlock.md replays four files recorded from the same
    # minute; each took the clock as it was listed, so when loading them crossed a 5-minute
    # boundary the last two played a bar later and `calendar shift --sandbox` refused the
    # example ("the replayed files are shifted differently ... pick one with --symbol").
    clock = iter(range(1_796_607_599_000, 1_796_607_599_000 + 10_000_000, 1_000))  # 1 s a read
    files = [data_dir / "candles" / f"{c}_BTC-5m.feather" for c in ("ETH", "ADA", "LTC", "XLM")]
    ex = SandboxExchange(
        SandboxConfig(replay=[str(f) for f in files], replay_history_bars=50),
        clock=lambda: next(clock),
    )
    assert len({r.shift_ms for r in ex.replays}) == 1, [r.shift_ms for r in ex.replays]
    assert len({r.bar_time(0) for r in ex.replays}) == 1
