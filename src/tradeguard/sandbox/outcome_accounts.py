"""Cash and outcome-token holdings of sandbox accounts on a binary-market venue."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradeguard.model.money import ZERO
from tradeguard.model.outcome import Outcome, Resolution, payout
from tradeguard.sandbox.binary_book import BinaryBook, BinaryOrder

Holding = tuple[str, Outcome]  # (market, outcome)


class FundsError(Exception):
    """An account lacks the cash or contracts an order needs."""


@dataclass(slots=True)
class OutcomeAccount:
    account_id: str
    cash: Decimal = ZERO
    locked_cash: Decimal = ZERO
    tokens: dict[Holding, Decimal] = field(default_factory=dict)
    locked_tokens: dict[Holding, Decimal] = field(default_factory=dict)
    settlements: list[dict[str, object]] = field(default_factory=list)

    def free_cash(self) -> Decimal:
        return self.cash - self.locked_cash

    def free_tokens(self, key: Holding) -> Decimal:
        return self.tokens.get(key, ZERO) - self.locked_tokens.get(key, ZERO)

    def reserve(self, order: BinaryOrder, cash_needed: Decimal) -> None:
        """Lock what `order` may consume, or raise FundsError naming what is missing."""
        key = (order.market, order.outcome)
        if order.buy:
            if self.free_cash() < cash_needed:
                raise FundsError(f"needs {cash_needed} cash, {self.free_cash()} available")
            self.locked_cash += cash_needed
            order.extra["locked"] = cash_needed
        else:
            if self.free_tokens(key) < order.size:
                raise FundsError(
                    f"needs {order.size} {order.outcome.value} contracts of {order.market}, "
                    f"{self.free_tokens(key)} available"
                )
            self.locked_tokens[key] = self.locked_tokens.get(key, ZERO) + order.size

    def release(self, order: BinaryOrder) -> None:
        """Unlock what is left of a finished order's reservation, once (a taker that ended
        after several trades is seen finished by each of them)."""
        key = (order.market, order.outcome)
        if order.buy:
            left = order.extra.pop("locked", ZERO)
            assert isinstance(left, Decimal)
            self.locked_cash -= left
        elif not order.extra.get("released"):
            order.extra["released"] = True
            self.locked_tokens[key] = self.locked_tokens.get(key, ZERO) - order.remaining

    def apply_leg(self, order: BinaryOrder, size: Decimal, price: Decimal, fee: Decimal) -> None:
        """Book one execution of `order`: contracts move, cash moves, the fee is paid."""
        key = (order.market, order.outcome)
        cost = size * price
        if order.buy:
            locked = order.extra.get("locked", ZERO)
            assert isinstance(locked, Decimal)
            used = min(locked, cost + fee)
            order.extra["locked"] = locked - used
            self.locked_cash -= used
            self.cash -= cost + fee
            self.tokens[key] = self.tokens.get(key, ZERO) + size
        else:
            self.locked_tokens[key] = self.locked_tokens.get(key, ZERO) - size
            self.tokens[key] = self.tokens.get(key, ZERO) - size
            self.cash += cost - fee

    def net_pairs(self, market: str) -> Decimal:
        """Turn each YES+NO pair of `market` into 1 of cash (Kalshi nets positions)."""
        yes, no = (market, Outcome.YES), (market, Outcome.NO)
        pairs = min(self.free_tokens(yes), self.free_tokens(no))
        if pairs > 0:
            self.tokens[yes] -= pairs
            self.tokens[no] -= pairs
            self.cash += pairs
        return pairs

    def merge(self, market: str, pairs: Decimal) -> None:
        """Turn `pairs` free YES+NO pairs of `market` into as much cash (Polymarket's
        mergePositions), or raise FundsError naming what is missing."""
        yes, no = (market, Outcome.YES), (market, Outcome.NO)
        free = min(self.free_tokens(yes), self.free_tokens(no))
        if pairs <= 0 or pairs > free:
            raise FundsError(f"merge of {pairs} pairs of {market}: {free} free pairs held")
        self.tokens[yes] -= pairs
        self.tokens[no] -= pairs
        self.cash += pairs

    def settle(self, market: str, resolution: Resolution, ts: int) -> dict[str, object]:
        """Pay out every contract of a resolved market and record the settlement."""
        yes = self.tokens.pop((market, Outcome.YES), ZERO)
        no = self.tokens.pop((market, Outcome.NO), ZERO)
        self.locked_tokens.pop((market, Outcome.YES), None)
        self.locked_tokens.pop((market, Outcome.NO), None)
        cash = yes * payout(resolution, Outcome.YES) + no * payout(resolution, Outcome.NO)
        self.cash += cash
        row: dict[str, object] = {
            "market": market,
            "result": resolution.value,
            "yes_count": yes,
            "no_count": no,
            "revenue": cash,
            "ts": ts,
        }
        if yes or no:
            self.settlements.append(row)
        return row

    def position(self, market: str) -> tuple[Decimal, Decimal]:
        return self.tokens.get((market, Outcome.YES), ZERO), self.tokens.get(
            (market, Outcome.NO), ZERO
        )


HOUSE = "house"  # the sandbox's own account: the seeded liquidity, never settled


def cancel_resting(book: BinaryBook, accounts: dict[str, OutcomeAccount], market: str) -> None:
    """Cancel a market's resting orders, their funds released (a market resolving)."""
    for order in book.resting(market):
        book.cancel(order.order_id)
        accounts[order.account].release(order)


def settle_holders(
    accounts: dict[str, OutcomeAccount], market: str, resolution: Resolution, ts: int
) -> list[dict[str, object]]:
    """Pay every holder of a resolved market but the house; return each account's row."""
    return [a.settle(market, resolution, ts) for a in accounts.values() if a.account_id != HOUSE]
