"""Balances per asset per venue."""

from __future__ import annotations

from collections.abc import ValuesView
from dataclasses import dataclass
from decimal import Decimal

from tradeguard.model.money import ZERO


@dataclass(slots=True)
class Balance:
    venue: str
    asset: str
    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class BalanceBook:
    """All balances of one venue account, keyed by asset."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self._by_asset: dict[str, Balance] = {}
        # True once a reconciliation of this process set the figures from the venue's answer;
        # until then they are the ones stored before the last stop (they may predate fills)
        self.read_from_venue = False

    def get(self, asset: str) -> Balance:
        bal = self._by_asset.get(asset)
        if bal is None:
            bal = self._by_asset[asset] = Balance(self.venue, asset)
        return bal

    def set(self, asset: str, free: Decimal, locked: Decimal = ZERO) -> Balance:
        bal = self.get(asset)
        bal.free = free
        bal.locked = locked
        return bal

    def free(self, asset: str) -> Decimal:
        bal = self._by_asset.get(asset)
        return bal.free if bal else ZERO

    def total(self, asset: str) -> Decimal:
        bal = self._by_asset.get(asset)
        return bal.total if bal else ZERO

    def all(self) -> list[Balance]:
        """Every asset this account has held, zero balances included (so a sale to zero shows)."""
        return list(self._by_asset.values())

    def values(self) -> ValuesView[Balance]:
        """`all()` as a live view, not a copy: for a reader that changes nothing as it goes."""
        return self._by_asset.values()

    def nonzero(self) -> list[Balance]:
        return [b for b in self._by_asset.values() if b.free != ZERO or b.locked != ZERO]

    def assets(self) -> list[str]:
        return list(self._by_asset)


def spend(bal: Balance, amount: Decimal, locked_first: bool = False) -> None:
    """Take `amount` out of a balance: from what is locked first if asked, else from free;
    what free cannot cover comes out of the locked part."""
    if locked_first and bal.locked > ZERO:
        take = min(bal.locked, amount)
        bal.locked -= take
        amount -= take
    bal.free -= amount
    if bal.free < ZERO < bal.locked:
        shift = min(-bal.free, bal.locked)
        bal.free += shift
        bal.locked -= shift
