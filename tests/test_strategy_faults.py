"""A hostile strategy file (raising in a callback, emitting what is not an intent, NaN or absurd
figures) ends a backtest with one line naming the strategy, the callback and the error, exit 2,
or has its orders denied by name: never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest_support import STRATEGY_FILE, write_config
from tradeguard.cli.main import main

HOSTILE = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Raises(Strategy):
    def on_candle(self, candle):
        raise RuntimeError("boom at " + str(candle.ts))


class EmitsDict(Strategy):
    def on_candle(self, candle):
        self.emit({"side": "buy", "amount": 1})


class Absurd(Strategy):
    n = 0

    def on_candle(self, candle):
        self.n += 1
        amount = {3: Decimal("NaN"), 4: Decimal("Infinity"), 5: Decimal("1E+30")}.get(self.n)
        if amount is not None:
            self.emit(OrderIntent(strategy_id=self.id, venue=self.venue, symbol=self.symbol,
                                  side=Side.BUY, amount=amount, type=OrderType.MARKET))
"""


def _config(tmp_path: Path, cls: str) -> Path:
    (tmp_path / "hostile.py").write_text(HOSTILE, encoding="utf-8")
    path = write_config(tmp_path, pairs=("ETH",))
    text = path.read_text(encoding="utf-8").replace(
        f"{STRATEGY_FILE}:EmaCross", f"{tmp_path / 'hostile.py'}:{cls}"
    )
    path.write_text(text, encoding="utf-8")
    return path


def _backtest(tmp_path: Path, cls: str) -> int:
    config = _config(tmp_path, cls)
    argv = ["backtest", "--config", str(config), "--from", "2018-01-12", "--to", "2018-01-13"]
    return main([*argv, "--out", str(tmp_path / "run"), "--json"])


@pytest.mark.parametrize(
    ("cls", "said"),
    [
        ("Raises", "failed in on_candle: RuntimeError: boom at 1515715"),
        ("EmitsDict", "failed in on_candle: TypeError: emit() takes an OrderIntent, got dict"),
    ],
)
def test_a_strategy_that_raises_is_named_in_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cls: str, said: str
) -> None:
    assert _backtest(tmp_path, cls) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tradeguard: strategy 'ema_eth' ({cls}) {said}")
    assert "hostile.py line" in err or "context.py line" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_nan_infinite_and_absurd_amounts_are_denied_and_the_run_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert _backtest(tmp_path, "Absurd") == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert (metrics["orders"], metrics["denied"], metrics["trades"]) == (0, 3, 0)


def test_a_strategy_that_raises_in_a_sweep_is_named_with_its_combination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The worker names the fault where the strategy's frames are (the driver gets only a
    pickled exception, which ended the sweep with a traceback and exit 1)."""
    config = _config(tmp_path, "Raises")
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.fast" = [8]\n', encoding="utf-8")
    argv = ["sweep", "--config", str(config), "--grid", str(grid), "--no-ray", "--workers", "1"]
    window = ["--from", "2018-01-12", "--to", "2018-01-13", "--out", str(tmp_path / "s")]
    assert main([*argv, *window]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "tradeguard: grid combination fast=8: strategy 'ema_eth' (Raises) failed in on_candle: "
        "RuntimeError: boom at 1515715"
    )
    assert len(err.strip().splitlines()) == 1
