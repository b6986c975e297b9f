"""Dust of one outcome left on Kalshi (fewer contracts than its minimum order: no order can sell
them) leaves the pair flat, and flat it stays for the netting guard too: a pair buying the other
outcome there is not refused (PAIR_NETS) at every cooldown until the market settles. Kalshi nets
the dust against the new leg, paying 1 USD a pair at once: what the dust and those contracts
would have paid at settlement."""

from __future__ import annotations

import copy
from decimal import Decimal

from pm_arb_support import StubGateway
from test_pm_arb_executor import K_YES, PM_NO
from test_pm_arb_scanner import NOW, pair_doc
from tradeguard.model.outcome import Outcome, outcome_instrument, parse_outcome_symbol
from tradeguard.strategies.cross_venue.executor import PairExecConfig, PairExecutor
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.market_map import parse_market_map
from tradeguard.strategies.cross_venue.scanner import PairScanner, scan_pair

D = Decimal
K_NO, PM_YES = "KXFED:NO/USD", "fed-above-4:YES/PUSD"


def _five_at_least(symbol: str):
    market, outcome, quote = parse_outcome_symbol(symbol)
    return outcome_instrument("k", market, Outcome(outcome), quote, D("0.01"), D(1), D(5),
                              D("0.07"))  # fmt: skip


def _rig() -> tuple[PairExecutor, StubGateway, StubGateway, PairScanner]:
    pair = parse_market_map(pair_doc()).pairs["fed"]
    pm_fees, k_fees = FeeModel.default("polymarket"), FeeModel.default("kalshi")
    scanner = PairScanner([scan_pair(pair, "pm", "k", pm_fees, k_fees)])
    k, pm = StubGateway("k", k_fees, nets_outcome_pairs=True), StubGateway("pm", pm_fees)
    k.instrument = _five_at_least  # type: ignore[method-assign]
    executor = PairExecutor(
        {"pm": pm, "k": k}, "pmarb", PairExecConfig(max_unwind_loss_usd=D(2)),
        fees={"pm": pm_fees, "k": k_fees},  # type: ignore[arg-type]
    )  # fmt: skip
    return executor, k, pm, scanner


def _offer(scanner: PairScanner, k: StubGateway, pm: StubGateway, books: dict) -> object:
    for venue, gateway in (("k", k), ("pm", pm)):
        for symbol, asks in books.items():
            if symbol.startswith("KXFED") == (venue == "k"):
                scanner.update_book(venue, symbol, asks)
                gateway.asks[symbol] = copy.deepcopy(asks)
    opp = scanner.opportunity("fed", NOW)
    assert opp is not None
    return opp


async def test_dust_left_on_kalshi_does_not_block_the_pair_buying_the_other_outcome() -> None:
    executor, k, pm, scanner = _rig()
    # Kalshi NO + Polymarket YES, Kalshi first; Polymarket refuses, the unwind sells 7 of 10
    opp = _offer(scanner, k, pm, {K_NO: [(D("0.40"), D(10))], PM_YES: [(D("0.55"), D(50))]})
    pm.refuse.add(PM_YES)
    k.bids[K_NO] = [(D("0.39"), D(7))]
    rec = await executor.execute(opp)  # type: ignore[arg-type]
    assert rec.outcome == "unwound" and rec.held == {} and rec.dust == {K_NO: D(3)}, rec.reason
    assert executor.book.open == []  # flat
    k.cash["KXFED:NO"] = D(3)  # what the venue holds free now: the dust
    pm.refuse.clear()
    scanner.update_book("k", K_NO, [])
    scanner.update_book("pm", PM_YES, [])
    # the other direction now: Kalshi YES + Polymarket NO, at each cooldown
    for _ in range(3):
        opp = _offer(scanner, k, pm, {K_YES: [(D("0.40"), D(10))], PM_NO: [(D("0.55"), D(50))]})
        rec = await executor.execute(opp)  # type: ignore[arg-type]
        assert rec.code != "PAIR_NETS", rec.reason
        assert rec.outcome == "completed", rec.reason
        assert executor.nets_refused.by_pair == {}
        assert [o.symbol for o in k.sent[-1:]] == [K_YES]
        assert [p.contracts for p in executor.book.open] == [D(10)]
        executor.book.open.clear()  # the next cooldown: a fresh pair (no limit room used)


async def test_contracts_of_the_other_outcome_an_order_can_sell_still_refuse_the_pair() -> None:
    executor, k, pm, scanner = _rig()
    k.cash["KXFED:NO"] = D(5)  # the venue's minimum: sellable, not dust
    opp = _offer(scanner, k, pm, {K_YES: [(D("0.40"), D(10))], PM_NO: [(D("0.55"), D(50))]})
    rec = await executor.execute(opp)  # type: ignore[arg-type]
    assert rec.outcome == "rejected" and rec.code == "PAIR_NETS", rec.reason
    assert "k holds 5 KXFED:NO free" in rec.reason and k.sent == [] and pm.sent == []
