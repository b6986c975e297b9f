"""A user strategy may change the decimal context (`getcontext().prec = 6`, a trap on Inexact,
another rounding) for its own arithmetic: the engine's fills, fees, positions, P&L and balances
must come out as they do for a strategy that leaves it alone, and the run must not raise."""

from __future__ import annotations

import decimal
import json
from decimal import Decimal
from pathlib import Path

import pytest

from cli_support import run_cli
from node_support import write_paper_toml, write_slice

# Buys 0.00123 BTC on its 3rd candle and sells 0.001 on its 12th, after `change` in on_start.
FIDDLER = """
from decimal import ROUND_FLOOR, Decimal, Inexact, getcontext
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy

{top}


class Fiddler(Strategy):
    def on_start(self):
        self.n = 0
        {change}

    def on_candle(self, candle):
        self.n += 1
        side, amount = {{3: (Side.BUY, "0.00123"), 12: (Side.SELL, "0.001")}}.get(self.n, (0, 0))
        if amount:
            self.emit(OrderIntent(self.id, self.venue, self.symbol, side, Decimal(amount),
                                  OrderType.MARKET))
"""
CHANGES = {
    "alone": "pass",
    "prec6": "getcontext().prec = 6",
    "inexact": "getcontext().traps[Inexact] = True",
    "floor": "getcontext().rounding = ROUND_FLOOR",
}
# Changed as the module is imported, for every strategy of the file.
TOPS = {"at_import": "getcontext().prec = 6"}


def _run(tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str], name: str) -> dict:
    work = tmp_path / name
    (work / "strategies").mkdir(parents=True)
    (work / "strategies" / f"{name}.py").write_text(
        FIDDLER.format(change=CHANGES.get(name, "pass"), top=TOPS.get(name, ""))
    )
    mine = f"""
[[strategies]]
id = "mine"
kind = "strategies/{name}.py:Fiddler"
venue = "paper"
symbol = "BTC/USDT"
"""
    cfg = write_paper_toml(work, data, strategies=mine, folder=work)
    run = run_cli(capsys, "run", "--until-end", "--config", str(cfg))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    seen = {}
    for view in (("orders", "--json"), ("positions", "--all", "--json"), ("balances", "--json")):
        out = run_cli(capsys, *view, "--config", str(cfg))
        assert out.returncode == 0, out.stderr[-2000:]
        seen[view[0]] = _without_ids(json.loads(out.stdout))
    fills = run_cli(capsys, "fills", "--config", str(cfg))
    assert fills.returncode == 0, fills.stderr[-2000:]
    # from the venue to the liquidity and venue ids (no times, no client order ids)
    seen["fills"] = [line.split(",")[2:-2] for line in fills.stdout.splitlines()]
    return seen


def _without_ids(value: object) -> object:
    """`value` with what differs between two runs anyway (ids, times) left out."""
    if isinstance(value, dict):
        return {
            k: _without_ids(v)
            for k, v in value.items()
            if not (k.endswith("_id") or k.endswith("_at") or k.endswith("_ms") or k == "id")
        }
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def test_a_strategy_changing_the_decimal_context_changes_nothing_the_engine_stores(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 20)
    with decimal.localcontext():  # a change that leaked stays inside this test
        alone = _run(tmp_path, data, capsys, "alone")
        assert len(alone["fills"]) == 3, alone  # the CSV's header and both orders' fills
        for name in ("prec6", "inexact", "floor", "at_import"):
            assert _run(tmp_path, data, capsys, name) == alone, name


SEER = """
from decimal import ROUND_FLOOR, getcontext
from tradeguard.strategies.base import Strategy

getcontext().prec = 6


class Seer(Strategy):
    def __init__(self, strategy_id, venue, symbol, params):
        super().__init__(strategy_id, venue, symbol, params)
        self.seen = []

    def on_start(self):
        getcontext().rounding = ROUND_FLOOR

    def on_candle(self, candle):
        self.seen.append((getcontext().prec, getcontext().rounding))
"""


def test_a_strategy_keeps_its_own_decimal_settings_from_import_to_each_callback(
    tmp_path: Path,
) -> None:
    from tradeguard.strategies.base import create

    (tmp_path / "seer.py").write_text(SEER)
    with decimal.localcontext():  # a change that leaked stays inside this test
        node = decimal.getcontext()
        settings = (node.prec, node.rounding)
        strat = create("seer.py:Seer", "s", "paper", "BTC/USDT", {}, tmp_path)
        strat.on_start()
        strat.on_candle(None)
        assert strat.seen == [(6, decimal.ROUND_FLOOR)]  # its import's digits, its own rounding
        assert decimal.getcontext() is node and (node.prec, node.rounding) == settings


def test_a_percent_figure_rounds_half_even_whatever_the_context_says() -> None:
    from tradeguard.model.position import unrealized_pct

    # 0.00125 % lies halfway between two steps of a hundredth of a basis point
    half = (Decimal("0.0000125"), Decimal(1), Decimal(1))
    with decimal.localcontext(rounding=decimal.ROUND_HALF_UP):  # as ccxt leaves a context
        assert unrealized_pct(*half) == Decimal("0.0012")


NESTED = """
import asyncio
from decimal import Context, getcontext, setcontext
from tradeguard.strategies.base import Strategy


class Nested(Strategy):
    def on_start(self):
        setcontext(Context(prec=7))  # a context of its own, set rather than changed

    def on_candle(self, candle):
        if candle == "raise":
            getcontext().prec = 9
            raise RuntimeError("boom")
        self.on_ticker(candle)  # a callback calling another: already in its own context
        self.task = asyncio.get_running_loop().create_task(self._later())
        return getcontext().prec

    def on_ticker(self, quote):
        self.on_bar(60, quote)

    def on_bar(self, interval_s, bar):
        self.bar_prec = getcontext().prec

    async def _later(self):
        return getcontext().prec
"""


async def test_a_strategys_context_holds_through_nested_callbacks_a_raise_and_its_own_task(
    tmp_path: Path,
) -> None:
    from tradeguard.strategies.base import create

    (tmp_path / "nested.py").write_text(NESTED)
    with decimal.localcontext():  # a change that leaked stays inside this test
        node = decimal.getcontext()
        settings = (node.prec, node.rounding, dict(node.traps))
        strat = create("nested.py:Nested", "s", "paper", "BTC/USDT", {}, tmp_path)
        strat.on_start()  # its `setcontext` is kept for the next callback
        assert strat.on_candle(None) == 7 and strat.bar_prec == 7
        assert await strat.task == 7  # a task it starts runs in its context
        with pytest.raises(RuntimeError, match="boom"):
            strat.on_candle("raise")
        assert strat.on_candle(None) == 9  # what it set before raising stays its own
        strat.task.cancel()
        assert decimal.getcontext() is node
        assert (node.prec, node.rounding, dict(node.traps)) == settings
