"""A pair refused again at each cooldown (PAIR_NETS: Kalshi would net its leg away) must not
hold the scan: the next pair that clears min_roi_pct is tried. The best pair alone was picked
every time, refused every time, and no other pair was ever attempted while the contracts
stayed held."""

from __future__ import annotations

import copy
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from pm_arb_support import StubGateway
from test_pm_arb_crossed_book import MAP
from test_pm_arb_scanner import NOW, pair_doc
from tradeguard.cli.pm_arb_run import print_attempts
from tradeguard.strategies.cross_venue.executor import PairExecConfig, PairExecutor
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.limits import LimitBook, PairLimits
from tradeguard.strategies.cross_venue.market_map import parse_market_map
from tradeguard.strategies.cross_venue.scanner import PairScanner, scan_pair
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

D = Decimal
FED_YES, FED_NO = "KXFED:YES/USD", "fed-above-4:NO/PUSD"
CPI_YES, CPI_NO = "KXCPI:YES/USD", "cpi-above-3:NO/PUSD"


class _Clock:
    def __init__(self) -> None:
        self.ms = NOW

    def now_ms(self) -> int:
        return self.ms


def _two_pairs() -> dict:
    doc = pair_doc()
    cpi = copy.deepcopy(doc["pairs"][0])
    cpi.update(id="cpi", event="cpi-dec")
    cpi["polymarket"]["market"] = "cpi-above-3"
    cpi["polymarket"].update(yes_token="3", no_token="4")
    cpi["kalshi"]["ticker"] = "KXCPI"
    doc["pairs"].append(cpi)
    return doc


def _strategy(tmp_path: Path, cpi_yes_ask: str = "0.41") -> tuple[Any, PairExecutor, _Clock]:
    """The strategy over the pairs fed and cpi, Kalshi holding KXFED:NO free (a KXFED:YES
    bought would be netted away: fed is refused PAIR_NETS), cpi's YES at `cpi_yes_ask`."""
    (tmp_path / "map.toml").write_text(MAP)  # the strategy reads one; the scanner is set below
    books = {FED_YES: [(D("0.40"), D(10))], FED_NO: [(D("0.55"), D(50))],
             CPI_YES: [(D(cpi_yes_ask), D(10))], CPI_NO: [(D("0.55"), D(50))]}  # fmt: skip
    pm_fees, k_fees = FeeModel.default("polymarket"), FeeModel.default("kalshi")
    pairs = parse_market_map(_two_pairs()).pairs
    scanner = PairScanner([scan_pair(p, "pm", "k", pm_fees, k_fees) for p in pairs.values()])
    for symbol, asks in books.items():
        scanner.update_book("k" if symbol.startswith("KX") else "pm", symbol, asks)
    kalshi_books = {s: copy.deepcopy(a) for s, a in books.items() if s.startswith("KX")}
    pm_books = {s: copy.deepcopy(a) for s, a in books.items() if not s.startswith("KX")}
    k = StubGateway("k", k_fees, nets_outcome_pairs=True, asks=kalshi_books)
    k.cash["KXFED:NO"] = D(9)
    pm = StubGateway("pm", pm_fees, asks=pm_books)
    fees = {"pm": pm_fees, "k": k_fees}
    gateways = {"pm": pm, "k": k}
    executor = PairExecutor(
        gateways,  # type: ignore[arg-type]
        "pmarb",
        PairExecConfig(),
        limits=PairLimits(),
        book=LimitBook(),
        fees=fees,  # type: ignore[arg-type]
    )
    strat = CrossVenueStrategy("pmarb", "pm", "", {"map": str(tmp_path / "map.toml"),
                                                   "kalshi_venue": "k"})  # fmt: skip
    clock = _Clock()
    strat.scanner, strat.executor, strat.ctx = scanner, executor, clock  # type: ignore[assignment]
    strat._started = True
    return strat, executor, clock


async def _polls(strat: Any, clock: _Clock, n: int) -> None:
    for _ in range(n):  # each cooldown
        task = strat.poll()
        if task is not None:
            await task
        clock.ms += 1_001


async def test_a_pair_refused_again_does_not_keep_the_next_best_pair_from_trading(
    tmp_path: Path,
) -> None:
    strat, executor, clock = _strategy(tmp_path)
    fed, cpi = strat.scanner.opportunity("fed", NOW), strat.scanner.opportunity("cpi", NOW)
    assert fed is not None and cpi is not None
    assert fed.roi_pct > cpi.roi_pct >= PairLimits().min_roi_pct  # both clear; fed first

    await _polls(strat, clock, 4)
    tried = [(a.pair_id, a.outcome, a.code) for a in strat.attempts]
    assert tried[0] == ("fed", "rejected", "PAIR_NETS"), tried
    assert len(tried) > 1 and tried[1][:2] == ("cpi", "completed"), tried  # the next best
    # the refused pair is looked at again after it (refused as before: counted, not recorded)
    assert executor.nets_refused.by_pair["fed"].repeats == 1, tried


async def test_a_run_whose_only_pair_was_refused_as_before_does_not_blame_min_roi(
    tmp_path: Path,
) -> None:
    # A second run, the contracts still held: fed is refused again (counted on the first
    # run's record, no new one) and cpi does not clear min_roi_pct. The run has no attempt
    # of its own, and said "no mapped pair cleared min_roi_pct" above the line counting
    # fed's refusals, although fed cleared it.
    first, first_executor, first_clock = _strategy(tmp_path)
    await _polls(first, first_clock, 1)
    strat, executor, clock = _strategy(tmp_path, cpi_yes_ask="0.44")
    executor.nets_refused.restore(first_executor.nets_refused.to_json())
    await _polls(strat, clock, 3)
    assert strat.attempts == [] and executor.nets_refused.by_pair["fed"].repeats >= 1

    out = io.StringIO()
    print_attempts([], out, tradeable=2, refused=strat.nets_refused())
    said = out.getvalue()
    assert "no mapped pair cleared min_roi_pct" not in said, said
    assert "fed: refused (PAIR_NETS)" in said and "since record" in said, said
