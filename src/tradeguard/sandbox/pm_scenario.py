"""Mispricings that appear and vanish on a local prediction-market server (`--scenario arb`).

```python
scenario = ArbScenario(exchange.book, ["KXFED-26DEC-T4.00"], ArbScenarioConfig(fail_second=True))
task = asyncio.create_task(scenario.run())       # or scenario.appear(market) / vanish(market)
```

While a mispricing shows, the house liquidity of one market is moved down by `shift` (YES bids
and asks together, so the book never crosses itself): its YES is cheaper than on the other venue,
whose book is unchanged, and YES here plus NO there costs less than $1. The cheap ask holds
`size` contracts. After `window_s` the book moves back (it vanishes), and `period_s` later the
next market takes its turn.

With `fail_second`, the cheap ask is deep (so the other venue's leg is the thinner one and goes
first) and is pulled the instant a trader's order reaches the market: the first leg fills on the
other venue, the second finds the old prices here and does not fill.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.money import ONE
from tradeguard.model.outcome import Outcome
from tradeguard.sandbox.binary_book import BinaryBook, BinaryOrder, Trade
from tradeguard.sandbox.outcome_accounts import HOUSE

log = logging.getLogger(__name__)
SCENARIOS = ("arb", "arb-fail")


@dataclass(frozen=True, slots=True)
class ArbScenarioConfig:
    """How far, how deep, how long and how often mispricings show."""

    shift: Decimal = Decimal("0.08")  # YES prices move down by this much
    size: Decimal = Decimal(20)  # contracts at the cheap ask
    window_s: float = 3.0
    period_s: float = 6.0
    fail_second: bool = False

    @classmethod
    def named(cls, scenario: str) -> ArbScenarioConfig:
        """Return the config of `arb` or `arb-fail`; ValueError names the choices."""
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario {scenario!r} is not one of {list(SCENARIOS)}")
        if scenario == "arb-fail":
            return cls(size=Decimal(2000), fail_second=True)
        return cls()


class ArbScenario:
    """Move one market's house book at a time down and back; optionally pull it when hit."""

    def __init__(
        self, book: BinaryBook, markets: Sequence[str], config: ArbScenarioConfig | None = None
    ) -> None:
        self.book = book
        self.markets = list(markets)
        self.config = config or ArbScenarioConfig()
        self.showing: dict[str, list[BinaryOrder]] = {}  # market -> the house orders moved away
        self.pulled = 0
        self._submit = book.submit
        if self.config.fail_second:
            book.submit = self._last_look  # type: ignore[method-assign]

    def appear(self, market: str) -> None:
        """Move the market's house book down by `shift`, the cheap ask holding `size`."""
        if market in self.showing:
            return
        house = [o for o in self.book.resting(market) if o.account == HOUSE]
        for o in house:
            self.book.cancel(o.order_id)
        self.showing[market] = house
        best_ask = min((o.yes_price for o in house if not o.yes_bid), default=None)
        for o in sorted(house, key=lambda o: not o.yes_bid):  # bids first: never self-crossing
            yes = o.yes_price - self.config.shift
            if not 0 < yes < 1:
                continue
            size = self.config.size if not o.yes_bid and o.yes_price == best_ask else o.remaining
            self._post(market, o.outcome, o.buy, o.own_price(yes), size)

    def vanish(self, market: str) -> None:
        """Put the market's house book back where it was."""
        moved = self.showing.pop(market, None)
        if moved is None:
            return
        for o in [o for o in self.book.resting(market) if o.account == HOUSE]:
            self.book.cancel(o.order_id)
        for o in sorted(moved, key=lambda o: not o.yes_bid):
            self._post(market, o.outcome, o.buy, o.price, o.remaining)

    async def run(self) -> None:
        """Show a mispricing on each market in turn until cancelled."""
        cfg = self.config
        turn = 0
        try:
            while self.markets:
                market = self.markets[turn % len(self.markets)]
                self.appear(market)
                await asyncio.sleep(cfg.window_s)
                self.vanish(market)
                turn += 1
                await asyncio.sleep(max(cfg.period_s - cfg.window_s, 0))
        finally:
            for market in list(self.showing):
                self.vanish(market)

    def _last_look(self, order: BinaryOrder) -> list[Trade]:
        if order.account != HOUSE and order.market in self.showing:
            self.vanish(order.market)
            self.pulled += 1
            log.info(
                "scenario: liquidity of %s pulled before order %s", order.market, order.order_id
            )
        return self._submit(order)

    def _post(
        self, market: str, outcome: Outcome, buy: bool, price: Decimal, size: Decimal
    ) -> None:
        if size <= 0 or not 0 < price < ONE:
            return
        order = BinaryOrder(f"h-{uuid.uuid4().hex[:12]}", HOUSE, market, outcome, buy, price, size)
        self._submit(order)
