"""A backtest of series of different timeframes samples its equity at the finest bar replayed
(a coarser bar counts at its close, after the finer bars within it), and a series must hold the
candles of one symbol, its key."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path

import pytest

from backtest_support import write_config
from tradeguard.backtest.runner import run_backtest
from tradeguard.config import Config, load_config
from tradeguard.model.errors import ConfigError
from tradeguard.model.market import Candle

D = Decimal
T0 = 1_515_715_200_000  # 2018-01-12 00:00 UTC
FIVE_M, HOUR = 300, 3_600
IDLE = "from tradeguard.strategies.base import Strategy\n\n\nclass Idle(Strategy):\n    pass\n"


def _config(tmp_path: Path) -> Config:
    """The ETH and ADA example config holding 1 BTC and 1 ETH, with a strategy that never
    trades: the equity is 1 + the ETH/BTC close."""
    (tmp_path / "idle.py").write_text(IDLE, encoding="utf-8")
    path = write_config(tmp_path, pairs=("ETH", "ADA"))
    text = path.read_text(encoding="utf-8")
    text = text.replace('balances = { BTC = "1" }', 'balances = { BTC = "1", ETH = "1" }')
    text = re.sub(r'kind = "[^"]*:EmaCross"', f'kind = "{tmp_path / "idle.py"}:Idle"', text)
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _bar(symbol: str, ts: int, close: str, interval_s: int) -> Candle:
    px = D(close)
    return Candle(symbol, ts, px, px, px, px, D(1), interval_s)


def _eth_5m() -> list[Candle]:
    """Three days of 5m ETH/BTC at 0.1, a dip to 0.09 for two bars inside one hour of the
    first day, 0.12 over the whole third day."""
    out = []
    for i in range(3 * 288):
        close = "0.12" if i >= 2 * 288 else "0.09" if i in (100, 101) else "0.1"
        out.append(_bar("ETH/BTC", T0 + i * FIVE_M * 1000, close, FIVE_M))
    return out


def _ada_1h() -> list[Candle]:
    return [_bar("ADA/BTC", T0 + i * HOUR * 1000, "0.00003", HOUR) for i in range(72)]


@pytest.mark.parametrize("coarse_first", [False, True])
def test_mixed_timeframes_sample_the_equity_at_every_finest_bar(tmp_path, coarse_first):
    eth, ada = _eth_5m(), _ada_1h()
    series = {"ADA/BTC": ada, "ETH/BTC": eth} if coarse_first else {"ETH/BTC": eth, "ADA/BTC": ada}
    result = run_backtest(_config(tmp_path), tmp_path / "run", series=series)
    # was 144 samples (ETH first) or 72 (ADA first): one per hour bar, at its close
    assert len(result.curve) == len(eth)
    assert [ts for ts, _ in result.curve] == [c.close_ts for c in eth]
    m = result.metrics
    # By hand: start 1.1; the dip to 1.09 is a drawdown of 0.01 / 1.1. Daily closes (a sample
    # at 00:00 belongs to the day it opens) 1.1, 1.1, 1.12, 1.12: returns r = 0, 0, 0.02/1.1,
    # 0; mean r/4, stdev (n-1) r/2, so Sharpe = 0.5 * sqrt(365).
    assert m["start_equity"] == pytest.approx(1.1)  # was 1.0 with ADA first (ETH not yet marked)
    assert m["max_drawdown_pct"] == pytest.approx(100 * 0.01 / 1.1)  # was 0.0: the dip unseen
    assert m["days"] == 4
    assert m["sharpe"] == pytest.approx(0.5 * math.sqrt(365))  # was 11.82 with ADA first


def test_a_series_mixing_symbols_under_one_key_is_refused(tmp_path):
    eth, ada = _eth_5m(), _ada_1h()
    mixed = sorted(eth + ada, key=lambda c: c.ts)
    with pytest.raises(ConfigError) as err:
        run_backtest(_config(tmp_path), tmp_path / "run", series={"ETH/BTC": mixed})
    assert str(err.value) == (
        "series 'ETH/BTC' holds candles of ADA/BTC, ETH/BTC: each series holds the candles "
        "of one symbol, under that symbol as its key"
    )


def test_a_series_under_another_symbols_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"series 'ADA/BTC' holds candles of ETH/BTC: each"):
        run_backtest(_config(tmp_path), tmp_path / "run", series={"ADA/BTC": _eth_5m()})
