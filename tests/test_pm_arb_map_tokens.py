"""A pair whose map token ids are not the venue's is not traded by the strategy either.

`pm map check` refuses a pair whose `yes_token` / `no_token` differ from the ones the
Polymarket venue lists for its slug (the reviewer read another market, or swapped YES and NO,
which inverts the hedge); the running strategy must refuse it too, not trade it by its slug.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.model.errors import ConfigError
from tradeguard.model.instrument import Instrument
from tradeguard.model.outcome import Outcome, outcome_instrument, parse_outcome_symbol
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

NOW = 1_780_000_000_000
MAP = (Path(__file__).resolve().parents[1] / "examples" / "pm_map.toml").read_text()
YES, NO = "33913493373564439264755889172472344554", "257782350702163536151687588286181303923"
PM_YES = "fed-above-4pct-dec:YES/PUSD"


class Ctx:
    """What on_start reads: the clock, the listed instruments, the venue's token ids."""

    def __init__(self, tokens: dict[str, str] | None) -> None:
        self.tokens = tokens

    def now_ms(self) -> int:
        return NOW

    def instrument(self, venue: str, symbol: str) -> Instrument:
        market, outcome, quote = parse_outcome_symbol(symbol)
        return outcome_instrument(venue, market, Outcome(outcome), quote, Decimal("0.01"),
                                  Decimal(1), Decimal(1), Decimal("0.07"))  # fmt: skip

    def outcome_token(self, venue: str, symbol: str) -> str | None:
        return None if self.tokens is None else self.tokens.get(symbol)


def _started(tmp: Path, tokens: dict[str, str] | None) -> CrossVenueStrategy:
    (tmp / "map.toml").write_text(MAP)
    params = {"map": str(tmp / "map.toml"), "kalshi_venue": "kalshi"}
    strat = CrossVenueStrategy("pmarb", "polymarket", "", params)
    strat.ctx = Ctx(tokens)  # type: ignore[assignment]
    strat.on_start()
    return strat


def test_a_pair_whose_tokens_are_swapped_on_the_venue_is_not_traded(tmp_path) -> None:
    swapped = {PM_YES: NO, "fed-above-4pct-dec:NO/PUSD": YES}
    with pytest.raises(ConfigError, match=r"yes_token 3391.* is not the venue's 2577"):
        _started(tmp_path, swapped)


def test_matching_or_unknown_tokens_leave_the_pair_traded(tmp_path) -> None:
    right = {PM_YES: YES, "fed-above-4pct-dec:NO/PUSD": NO}
    assert PM_YES in _started(tmp_path, right).symbols
    assert PM_YES in _started(tmp_path, None).symbols  # a venue that does not say: no check
