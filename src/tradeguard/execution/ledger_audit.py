"""The ledger audit: stored balances and open positions must equal what their fills explain.

```python
audit = audit_storage(storage, start_balances={"paper": {"USDT": Decimal("10000")}})
if not audit.ok:
    print("\\n".join(audit.describe()))
```

Per venue and asset: stored total (free + locked) = starting balance + every fill's base and
quote movement - fees in their asset + recorded balance adjustments. Per open position: its
quantity = the signed sum of the base moved (net of fees taken in base) by the fills booked to
its (venue, symbol, strategy), where a reduction leaving less than the lot step flattens it,
but for fills whose trade FAILED at the venue (their move reversed, `failed_positions`).

An exchange venue's ledger starts at the venue's figures on its first reconciliation, and its
stored totals are the venue's own reports: there a difference within the fees' rounding (one
unit of the last digit of each fee charged in the asset) is no mismatch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeguard.execution.failed_positions import reversed_fills
from tradeguard.model.balance import Balance
from tradeguard.model.enums import Side
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO, plain
from tradeguard.model.position import Position, leaves_dust

START_BALANCES_KEY = "ledger.start_balances"
START_TS_KEY = "ledger.start_ts"
LOT_STEPS_KEY = "ledger.lot_steps"  # "venue|symbol" -> lot step, as the node last loaded them

# (venue, asset) and (venue, symbol, strategy_id)
_AssetKey = tuple[str, str]
_PositionKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class AssetLine:
    """One venue's asset: where its stored total should come from, and whether it does."""

    venue: str
    asset: str
    start: Decimal
    fills: Decimal
    fees: Decimal
    adjustments: Decimal
    stored: Decimal
    tolerance: Decimal = ZERO  # the fees' rounding, on exchange venues

    @property
    def expected(self) -> Decimal:
        return self.start + self.fills - self.fees + self.adjustments

    @property
    def difference(self) -> Decimal:
        return self.stored - self.expected

    @property
    def off(self) -> bool:
        """Tell whether the stored total differs from the expected one beyond the tolerance."""
        return abs(self.difference) > self.tolerance

    def describe(self) -> str:
        # plain digits: a tolerance of 3E-8 or a fee of 1.2E-7 reads as a typo to most people
        rounding = f", beyond the fees' rounding {plain(self.tolerance)}" if self.tolerance else ""
        return (
            f"{self.venue} {self.asset}: stored {plain(self.stored)} != start "
            f"{plain(self.start)} + fills {plain(self.fills)} - fees {plain(self.fees)} + "
            f"adjustments {plain(self.adjustments)} = {plain(self.expected)} "
            f"(difference {plain(self.difference)}{rounding})"
        )


@dataclass(frozen=True, slots=True)
class PositionLine:
    """One open position against the net of its fills."""

    venue: str
    symbol: str
    strategy_id: str
    stored: Decimal
    fills: Decimal

    @property
    def difference(self) -> Decimal:
        return self.stored - self.fills

    def describe(self) -> str:
        return (
            f"{self.venue} {self.symbol} ({self.strategy_id or '-'}): open position "
            f"{self.stored} != net of its fills {self.fills} (difference {self.difference})"
        )


@dataclass(slots=True)
class LedgerAudit:
    """Every line checked; `ok` when none differs."""

    assets: list[AssetLine] = field(default_factory=list)
    positions: list[PositionLine] = field(default_factory=list)
    # the exchange venues (`rounded`): only money moved on a real account can be a transfer
    exchanges: frozenset[str] = frozenset()

    @property
    def mismatches(self) -> list[AssetLine | PositionLine]:
        bad: list[AssetLine | PositionLine] = [a for a in self.assets if a.off]
        return bad + [p for p in self.positions if p.difference]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def only(self, venues: set[str]) -> LedgerAudit:
        """The lines of `venues` alone."""
        return LedgerAudit(
            [a for a in self.assets if a.venue in venues],
            [p for p in self.positions if p.venue in venues],
            self.exchanges,
        )

    def describe(self) -> list[str]:
        """One line per mismatch (empty when the ledger equals its fills)."""
        return [m.describe() for m in self.mismatches]

    def reason(self) -> str:
        """The halt reason: every mismatch with its figures, and the way out."""
        # A ledger below zero of an asset is a short an older version recorded on a spot
        # market (no venue lends coins there): its own command books the venue's figure.
        shorts = [a for a in self.assets if a.off and a.expected < 0]
        settle = "".join(
            f"; {a.venue} {a.asset}: a negative ledger is a spot short: once the venue holds the "
            f"coins, `tradeguard spot-short clear --venue {a.venue} --asset {a.asset} "
            '--reason "..."` books its balance'
            for a in shorts
        )
        # Any other difference of an exchange venue may be a transfer made while no node ran
        # (or a missed fill): the operator who knows it was one books it, checked against the
        # venue. A paper venue's balances are the node's own: a difference there is a defect.
        moved = "".join(
            f"; {a.venue} {a.asset}: if a deposit (+) or withdrawal (-) of "
            f"{plain(a.difference)} was made while the node was down, `tradeguard transfer "
            f'--venue {a.venue} --asset {a.asset} --amount {plain(a.difference)} --reason "..."` '
            "books it"
            for a in self.assets
            if a.off and a.expected >= 0 and a.venue in self.exchanges
        )
        return (
            "ledger audit failed: "
            + "; ".join(self.describe())
            + settle
            + moved
            + "; inspect with `tradeguard doctor`, correct the ledger, then `tradeguard resume`"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "assets": [_asset_json(a) for a in self.assets],
            "positions": [_position_json(p) for p in self.positions],
            "mismatches": self.describe(),
        }


def audit_ledger(
    start: Mapping[str, Mapping[str, Decimal]],
    fills: Iterable[tuple[Fill, str]],
    adjustments: Iterable[tuple[str, str, Decimal]],
    balances: Iterable[Balance],
    open_positions: Iterable[Position],
    balance_only: Iterable[str] = (),
    rounded: Iterable[str] = (),
    lot_steps: Mapping[tuple[str, str], Decimal] | None = None,
    reversed_trades: Collection[tuple[str, str]] = (),
) -> LedgerAudit:
    """Compare balances and open positions with start + fills - fees + adjustments.

    `fills` pairs each fill with the strategy it was booked to; fills of `balance_only`
    strategies (multi-leg executions) move balances but belong to no position. The balances
    of `rounded` venues (exchanges, which round the fees they charge) may differ by the fees'
    rounding. A position moves by the base its fills moved (net of fees taken in base), and a
    reduction that leaves less than the (venue, symbol)'s lot step in `lot_steps` flattens it,
    as the portfolio does. The fills of `reversed_trades` ((venue, trade id): trades the venue
    reported FAILED, `failed_positions`) move no position: their move was reversed.
    """
    steps = lot_steps or {}
    moved: dict[_AssetKey, Decimal] = {}
    fees: dict[_AssetKey, Decimal] = {}
    rounding: dict[_AssetKey, Decimal] = {}
    nets: dict[_PositionKey, Decimal] = {}
    untracked = set(balance_only)
    for fill, strategy_id in fills:
        _add_fill(moved, fees, rounding, fill)
        signed = fill.base_moved if fill.side is Side.BUY else -fill.base_moved
        if strategy_id not in untracked and (fill.venue, fill.trade_id) not in reversed_trades:
            key = (fill.venue, fill.symbol, strategy_id)
            before = nets.get(key, ZERO)
            after = before + signed
            dust = steps.get((fill.venue, fill.symbol), ZERO)
            nets[key] = ZERO if leaves_dust(before, after, dust) else after
    adjusted: dict[_AssetKey, Decimal] = {}
    for venue, asset, difference in adjustments:
        _add(adjusted, (venue, asset), difference)
    stored = {(b.venue, b.asset): b.total for b in balances}
    keys = set(stored) | set(moved) | set(fees) | set(adjusted)
    keys |= {(v, a) for v, assets in start.items() for a in assets}
    tolerant = set(rounded)
    audit = LedgerAudit(exchanges=frozenset(tolerant))
    for venue, asset in sorted(keys):
        audit.assets.append(
            AssetLine(
                venue, asset, start.get(venue, {}).get(asset, ZERO),
                moved.get((venue, asset), ZERO), fees.get((venue, asset), ZERO),
                adjusted.get((venue, asset), ZERO), stored.get((venue, asset), ZERO),
                rounding.get((venue, asset), ZERO) if venue in tolerant else ZERO,
            )
        )  # fmt: skip
    held = {(p.venue, p.symbol, p.strategy_id): p.quantity for p in open_positions}
    for key in sorted(set(held) | {k for k, q in nets.items() if q}):
        venue, symbol, sid = key
        audit.positions.append(
            PositionLine(venue, symbol, sid, held.get(key, ZERO), nets.get(key, ZERO))
        )
    return audit


def audit_storage(
    storage: Any,
    start_balances: Mapping[str, Mapping[str, Decimal]] | None = None,
    balance_only: Iterable[str] = (),
    rounded: Iterable[str] = (),
    lot_steps: Mapping[tuple[str, str], Decimal] | None = None,
) -> LedgerAudit:
    """Run the audit over what `storage` holds; starting balances and lot steps default to the
    stored ones."""
    start = start_balances if start_balances is not None else stored_start_balances(storage)
    if lot_steps is None:
        lot_steps = stored_lot_steps(storage)
    # each fill with the owner stored on its own row: fills of no journal order may share an
    # empty client order id and still belong to different owners (holdings, none)
    fills = list(storage.fill_pages())
    adjustments = [
        (r["venue"], r["asset"], r["difference"]) for r in storage.load_balance_adjustments()
    ]
    return audit_ledger(
        start,
        fills,
        adjustments,
        storage.load_balances(),
        storage.load_open_positions(),
        balance_only,
        rounded,
        lot_steps,
        reversed_fills(storage),
    )


def venue_ledger(storage: Any, venue: str) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """One venue's durable ledger without its start: per asset, fills - fees + adjustments;
    and per asset, the fees' rounding (one unit of each fee's last digit)."""
    moved: dict[_AssetKey, Decimal] = {}
    fees: dict[_AssetKey, Decimal] = {}
    rounding: dict[_AssetKey, Decimal] = {}
    for fill in storage.load_fills(venue=venue):
        _add_fill(moved, fees, rounding, fill)
    for (_, asset), fee in fees.items():
        _add(moved, (venue, asset), -fee)
    for r in storage.load_balance_adjustments(venue):
        _add(moved, (venue, r["asset"]), r["difference"])
    return (
        {asset: q for (_, asset), q in moved.items()},
        {asset: q for (_, asset), q in rounding.items()},
    )


def record_start_balances(
    storage: Any, venue: str, balances: Mapping[str, Decimal], read_ts: int | None = None
) -> None:
    """Record where `venue`'s ledger starts (inside the caller's transaction).

    `read_ts` (epoch ms, taken before the venue's balances were read) dates the start: a fill
    of the account older than it is already in those balances (`stored_start_ts`).
    """
    starts = storage.kv_get(START_BALANCES_KEY)
    starts = dict(starts) if isinstance(starts, dict) else {}
    starts[venue] = {a: plain(q) for a, q in balances.items()}
    storage.kv_set(START_BALANCES_KEY, starts)
    if read_ts is not None:
        stamps = storage.kv_get(START_TS_KEY)
        stamps = dict(stamps) if isinstance(stamps, dict) else {}
        stamps[venue] = int(read_ts)
        storage.kv_set(START_TS_KEY, stamps)


def stored_start_ts(storage: Any) -> dict[str, int]:
    """When each venue's ledger began (ms; venues recorded before this was kept: absent)."""
    raw = storage.kv_get(START_TS_KEY)
    return {v: int(t) for v, t in raw.items()} if isinstance(raw, dict) else {}


def stored_start_balances(storage: Any) -> dict[str, dict[str, Decimal]]:
    """The starting balances recorded when each venue's ledger began (none: empty)."""
    raw = storage.kv_get(START_BALANCES_KEY)
    if not isinstance(raw, dict):
        return {}
    return {v: {a: Decimal(str(q)) for a, q in assets.items()} for v, assets in raw.items()}


def record_lot_steps(storage: Any, steps: Mapping[tuple[str, str], Decimal]) -> None:
    """Keep the instruments' lot steps with the ledger, so an offline audit (`tradeguard
    doctor`) flattens a remainder below one step as the node did."""
    stored = storage.kv_get(LOT_STEPS_KEY)
    merged = dict(stored) if isinstance(stored, dict) else {}
    merged.update({f"{venue}|{symbol}": plain(step) for (venue, symbol), step in steps.items()})
    if merged != stored:
        storage.kv_set(LOT_STEPS_KEY, merged)


def stored_lot_steps(storage: Any) -> dict[tuple[str, str], Decimal]:
    """The lot steps `record_lot_steps` kept (none: empty)."""
    raw = storage.kv_get(LOT_STEPS_KEY)
    if not isinstance(raw, dict):
        return {}
    out: dict[tuple[str, str], Decimal] = {}
    for key, step in raw.items():
        venue, _, symbol = str(key).partition("|")
        out[(venue, symbol)] = Decimal(str(step))
    return out


def _add_fill(
    moved: dict[_AssetKey, Decimal],
    fees: dict[_AssetKey, Decimal],
    rounding: dict[_AssetKey, Decimal],
    fill: Fill,
) -> None:
    notional = fill.price * fill.amount
    buy = fill.side is Side.BUY
    _add(moved, (fill.venue, fill.base), fill.amount if buy else -fill.amount)
    _add(moved, (fill.venue, fill.quote), -notional if buy else notional)
    if fill.fee:
        _add(fees, (fill.venue, fill.fee_asset), fill.fee)
        exponent = fill.fee.as_tuple().exponent
        if isinstance(exponent, int):
            _add(rounding, (fill.venue, fill.fee_asset), Decimal(1).scaleb(exponent))


def _add(sums: dict[Any, Decimal], key: Any, amount: Decimal) -> None:
    sums[key] = sums.get(key, ZERO) + amount


def _asset_json(a: AssetLine) -> dict[str, str]:
    return {
        "venue": a.venue,
        "asset": a.asset,
        "start": plain(a.start),
        "fills": plain(a.fills),
        "fees": plain(a.fees),
        "adjustments": plain(a.adjustments),
        "expected": plain(a.expected),
        "stored": plain(a.stored),
        "difference": plain(a.difference),
    }


def _position_json(p: PositionLine) -> dict[str, str]:
    return {
        "venue": p.venue,
        "symbol": p.symbol,
        "strategy_id": p.strategy_id,
        "stored": plain(p.stored),
        "fills": plain(p.fills),
        "difference": plain(p.difference),
    }
