"""Pair settlement: YES/NO pays 1 per pair, void pays 1 too, mismatches are named with the loss."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.model.outcome import Resolution
from tradeguard.strategies.cross_venue.limits import OpenPair
from tradeguard.strategies.cross_venue.settlement import settle_pair

D = Decimal
Y, N, V = Resolution.YES, Resolution.NO, Resolution.VOID


def _held(direction: int = 0) -> OpenPair:
    return OpenPair("fed", "fed-dec", direction, D(10), D("9.70"), 0, ("pm", "k"), ("a", "b"))


def test_both_sides_resolving_alike_pay_one_per_pair() -> None:
    for res in (Y, N, V):
        got = settle_pair(_held(), "same", res, res)
        assert got.payout == D(10) and got.pnl == D("0.30") and not got.mismatch


def test_inverted_pair_agrees_when_kalshi_resolves_the_other_way() -> None:
    got = settle_pair(_held(1), "inverted", Y, N)
    assert got.payout == D(10) and not got.mismatch


def test_void_on_one_side_only_is_a_mismatch_with_its_loss() -> None:
    # holds Polymarket YES and Kalshi NO; Polymarket voids (0.5), Kalshi resolves YES (NO pays 0)
    got = settle_pair(_held(0), "same", V, Y)
    assert got.payout == D(5) and got.pnl == D("-4.70")
    assert got.mismatch_loss == D(5)
    assert "polymarket resolved void, kalshi yes" in got.mismatch


def test_opposite_outcomes_are_a_mismatch() -> None:
    got = settle_pair(_held(0), "same", N, Y)  # both held legs lose
    assert got.payout == 0 and got.mismatch_loss == D(10)
    assert got.mismatch
