"""A position still open when the backtest ends is in the end equity and the total return but
in no trade row: the console and the report say so, or the trade tables' P&L and the total
return disagree without a word."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest_support import STRATEGY_FILE, write_config
from tradeguard.cli.main import main

BUYS_ONCE = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class BuysOnce(Strategy):
    sent = False

    def on_candle(self, candle):
        if not self.sent:
            self.sent = True
            self.emit(OrderIntent(strategy_id=self.id, venue=self.venue, symbol=self.symbol,
                                  side=Side.BUY, amount=Decimal("0.1"), type=OrderType.MARKET))
"""

SAID = "1 position(s) still open at the end, valued at the last close"


def test_an_open_position_at_the_end_is_named_in_console_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    (tmp_path / "once.py").write_text(BUYS_ONCE, encoding="utf-8")
    cfg = write_config(tmp_path, pairs=("ETH",))
    cfg.write_text(
        cfg.read_text().replace(f"{STRATEGY_FILE}:EmaCross", f"{tmp_path}/once.py:BuysOnce")
    )
    out = tmp_path / "run"
    argv = ["backtest", "--config", str(cfg), "--from", "2018-01-12", "--to", "2018-01-13"]
    assert main([*argv, "--out", str(out)]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert SAID in shown and "not in the trades, per-pair or per-exit-reason P&L" in shown
    assert SAID in (out / "report.html").read_text(encoding="utf-8")
