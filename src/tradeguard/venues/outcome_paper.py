"""Paper trading of Kalshi and Polymarket outcome contracts: the paper venue's honest fills
against fed quotes, with the venue's own fee model instead of a fraction of notional."""

from __future__ import annotations

from decimal import Decimal

from tradeguard.clock import Clock
from tradeguard.model.enums import LiquiditySide
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ONE, ZERO
from tradeguard.model.outcome import Outcome, kalshi_fee, outcome_instrument, polymarket_fee
from tradeguard.venues.fill_model import FillConfig
from tradeguard.venues.paper import PaperVenue

QUOTES = {"kalshi": "USD", "polymarket": "PUSD"}


def paper_outcome_instruments(
    venue: str, dialect: str, markets: list[str], tick: Decimal = Decimal("0.01")
) -> dict[str, Instrument]:
    """YES and NO instruments of `markets` with the dialect's size rules."""
    step, minimum = (ONE, ONE) if dialect == "kalshi" else (Decimal("0.01"), Decimal(5))
    out = {}
    for market in markets:
        for outcome in Outcome:
            inst = outcome_instrument(
                venue, market, outcome, QUOTES[dialect], tick, step, minimum, Decimal("0.25")
            )
            out[inst.symbol] = inst
    return out


class OutcomePaperVenue(PaperVenue):
    """A paper venue charging Kalshi's or Polymarket's fees (rates per market where given)."""

    def __init__(
        self,
        name: str,
        instruments: dict[str, Instrument],
        balances: dict[str, Decimal],
        clock: Clock,
        fill_config: FillConfig | None = None,
        *,
        dialect: str,
        taker_rate: Decimal | None = None,
        maker_rate: Decimal = ZERO,
        exponent: Decimal = ONE,
    ) -> None:
        if dialect not in QUOTES:
            raise ValueError(f"dialect {dialect!r} is not kalshi or polymarket")
        super().__init__(name, instruments, balances, clock, fill_config)
        self.dialect = dialect
        default = Decimal("0.07") if dialect == "kalshi" else Decimal("0.02")
        self.taker_rate = default if taker_rate is None else taker_rate
        self.maker_rate = maker_rate
        self.exponent = exponent

    def fee_for(
        self, inst: Instrument, price: Decimal, qty: Decimal, liquidity: LiquiditySide
    ) -> Decimal:
        maker = liquidity is LiquiditySide.MAKER
        if self.dialect == "kalshi":
            rate = self.maker_rate if maker else self.taker_rate
            return kalshi_fee(qty, price, rate) if rate else ZERO
        return ZERO if maker else polymarket_fee(qty, price, self.taker_rate, self.exponent)
