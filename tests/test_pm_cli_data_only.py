"""`pm map check` and `pm markets` on a paper config: its data-only venues read both local
servers' public listings without a key (they used to demand vault credentials)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from pathlib import Path

import pytest

from cli_support import Done
from tradeguard.cli.main import main
from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys, polymarket_demo, polymarket_keys

ROOT = Path(__file__).resolve().parents[1]


def _paper_config(tmp: Path, kalshi_url: str, pm_url: str) -> Path:
    text = (ROOT / "examples" / "pm_arb_paper.toml").read_text()
    text = text.replace("http://127.0.0.1:8766/trade-api/v2", kalshi_url)
    text = text.replace("http://127.0.0.1:8767", pm_url)
    text = text.replace('"sqlite:///pm_arb_paper.db"', f'"sqlite:///{tmp / "tg.db"}"')
    path = tmp / "pm_arb_paper.toml"
    path.write_text(text)
    return path


def _cli(tmp: Path, *args: str) -> Done:
    """The command in this process (on the caller's thread), from `tmp`, its environment
    nothing but a PATH and a vault path where no vault is."""
    env = {"PATH": "/usr/bin:/bin", "TG_VAULT_PATH": str(tmp / "no-vault.json")}
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for name in set(os.environ) - set(env):
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(tmp)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    return Done(code, out.getvalue(), err.getvalue())


async def test_map_check_and_markets_read_a_paper_configs_data_only_venues(tmp_path):
    kalshi, pm = kalshi_demo(kalshi_keys(None)), polymarket_demo(polymarket_keys(None))
    await kalshi.start()
    await pm.start()
    try:
        config = _paper_config(tmp_path, kalshi.rest_url, pm.url)
        check = await asyncio.to_thread(  # the documented command, on today's clock
            _cli, tmp_path, "pm", "map", "check", str(ROOT / "examples" / "pm_map.toml"),
            "--config", str(config),
        )  # fmt: skip
        years_on = await asyncio.to_thread(  # the walk-through must not expire
            _cli, tmp_path, "pm", "map", "check", str(ROOT / "examples" / "pm_map.toml"),
            "--config", str(config), "--at", "2031-06-01T00:00:00Z",
        )  # fmt: skip
        late = await asyncio.to_thread(
            _cli, tmp_path, "pm", "map", "check", str(ROOT / "examples" / "pm_map.toml"),
            "--config", str(config), "--at", "2099-12-16T19:00:00Z",
        )  # fmt: skip
        markets = await asyncio.to_thread(
            _cli, tmp_path, "pm", "markets", "--venue", "pm-data", "--config", str(config)
        )
    finally:
        await pm.stop()
        await kalshi.stop()
    assert check.returncode == 1, check.stderr  # two pairs of the example map are refused
    assert "ok      fed-dec-above-4" in check.stdout
    assert "3 pairs: 1 tradeable, 2 refused" in check.stdout
    # past every date the example once carried (2026-12-16, 2027-01-05): the walk-through's pair
    # is still tradeable, the two pairs it shows refused still are
    assert years_on.returncode == 1, years_on.stderr
    assert "ok      fed-dec-above-4" in years_on.stdout, years_on.stdout
    assert "3 pairs: 1 tradeable, 2 refused" in years_on.stdout
    assert late.returncode == 1, late.stderr  # the fed pair resolves then: refused, named
    assert "REFUSED fed-dec-above-4" in late.stdout
    assert "resolution time 2099-12-16T19:00:00Z has passed" in late.stdout
    assert "3 pairs: 0 tradeable, 3 refused" in late.stdout
    assert markets.returncode == 0, markets.stderr
    assert "fed-above-4pct-dec" in markets.stdout
    assert not [c for c in kalshi.requests + pm.requests if c["signed"]]
