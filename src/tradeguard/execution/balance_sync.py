"""Balance sync: poll every venue, store balances with USD values, correct the ledger.

The exchange is the source of truth. A ledger total that differs from the venue's by more than the
tolerance is logged, recorded as an adjustment, announced as `balance.discrepancy`, and the ledger
is set to the venue's figures. A difference within the tolerance (a fill's quote rounded to the
venue's precision, a few dust units) is set to the venue's figure too and recorded as an adjustment
named `WITHIN_TOLERANCE`: no cash flow, but the ledger still equals its fills plus its adjustments
(else the next start's audit would halt on money the running node itself took from the venue); one
beyond the absolute tolerance, which no rounding explains, is announced as an info
`balance.within_tolerance` event with its value. A difference must never become an adjustment while
fills are on their way, so a venue with orders unresolved or changed in the last moments is skipped
(`waiting` says why). Orders resting on the venue do not stop the sync: what they reserve moves an
asset from free to used and leaves its total, the figure compared, as it was; only a fill moves a
total. So right after reading the balances the venue's open orders are read too, and the balances
are applied only when each order the node has open on that venue is still open there with exactly
the amount filled that the ledger has booked (read after the balances, a fill the balances include
is in that list too), and the ledger's totals did not move while both were read (a fill booked
meanwhile, whatever the time it took, is one the balances may predate); else the venue is skipped
for this pass, with the reason in `waiting`. An order is found by client order id, or by the
journal's venue order id where the listing lacks ours (Polymarket's CLOB, a Kraken order a
restarted node sent with a UUID), and the venue names the calls that list them at the least weight
(`Venue.open_orders_reads`). After a venue's balances are applied, `on_applied` lets the strategies
holding legs without positions shrink them to what the venue holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.bus import EventBus
from tradeguard.clock import Clock
from tradeguard.execution.held_halts import refusal
from tradeguard.execution.reference_prices import ReferencePrices
from tradeguard.model.balance import Balance
from tradeguard.model.errors import ConfigError, VenueError
from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order
from tradeguard.model.text import name_shown
from tradeguard.venues.base import Venue

if TYPE_CHECKING:
    from tradeguard.execution.balance_reports import BalanceReports

log = logging.getLogger(__name__)
_HUNDRED = Decimal(100)
# names an adjustment the sync or a reconciliation booked within the sync's tolerance: recorded
# for the ledger audit, no cash flow (node/cash_flows.py)
WITHIN_TOLERANCE = "within the balance tolerance"


def beyond_tolerance(
    ledger: Decimal, venue: Decimal, tolerance_abs: Decimal, tolerance_pct: Decimal
) -> bool:
    """Tell whether two totals differ by more than both tolerances (absolute, and percent of
    the larger)."""
    diff = abs(venue - ledger)
    if diff <= tolerance_abs:
        return False
    return diff > max(abs(venue), abs(ledger)) * tolerance_pct / _HUNDRED


def _figures(d: Discrepancy) -> dict[str, str]:
    """Return a difference's asset and totals as an event's data shows them."""
    return {
        "asset": name_shown(d.asset),
        "ledger_total": plain(d.ledger_total),
        "venue_total": plain(d.venue_total),
        "difference": plain(d.difference),
    }


def within_tolerance_event(venue: str, d: Discrepancy, value: Decimal | None, now: int) -> Event:
    """Log and return the info event of a difference within the percent tolerance but beyond
    the absolute one (`value`: in the valuation asset, None without a price)."""
    log.info(
        "balance on %s: %s ledger %s, venue %s (difference %s), within the balance tolerance; "
        "ledger set to the venue's figure",
        venue, name_shown(d.asset), d.ledger_total, d.venue_total, d.difference,
    )  # fmt: skip
    return Event(
        kind=EventKind.BALANCE_WITHIN_TOLERANCE,
        ts=now,
        venue=venue,
        severity="info",
        data={
            **_figures(d),
            "value": None if value is None else plain(value),
            "hint": "counted as trading; money moved in or out by hand is declared with "
            "`tradeguard transfer`",
        },
    )


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One asset whose ledger total differed from the venue's beyond the tolerance."""

    venue: str
    asset: str
    ledger_total: Decimal
    venue_total: Decimal

    @property
    def difference(self) -> Decimal:
        return self.venue_total - self.ledger_total


@dataclass(frozen=True, slots=True)
class AssetTotal:
    """One asset summed across venues, with its USD value when a price is known."""

    asset: str
    total: Decimal
    usd_value: Decimal | None
    by_venue: dict[str, Decimal]


class BalanceSync:
    """Poll venues' balances into storage and the ledger, flagging discrepancies."""

    def __init__(
        self,
        venues: Mapping[str, Venue],
        portfolio: Any,
        storage: Any,
        bus: EventBus,
        clock: Clock,
        tolerance_pct: Decimal = Decimal("0.1"),
        tolerance_abs: Decimal = Decimal("0.00000001"),
        in_flight: Callable[[str], bool | str] | None = None,
        reference: ReferencePrices | None = None,
        on_applied: Callable[[str], object] | None = None,
        open_orders: Callable[[str], list[Order]] | None = None,
        merges: Callable[[str, list[Balance]], Awaitable[str]] | None = None,
        reports: BalanceReports | None = None,
    ) -> None:
        if tolerance_pct < 0 or tolerance_abs < 0:
            raise ConfigError(
                f"balance sync tolerance_pct={tolerance_pct} and tolerance_abs={tolerance_abs} "
                "must both be >= 0"
            )
        self.venues = venues
        self.portfolio = portfolio
        self.storage = storage
        self.bus = bus
        self.clock = clock
        self.tolerance_pct = tolerance_pct
        self.tolerance_abs = tolerance_abs
        self.in_flight = in_flight or (lambda _venue: False)
        # marks for held assets no traded market prices (BNB for fees): read before valuing
        self.reference = reference
        # after a venue's balances are applied (strategies' held legs follow the venue)
        self.on_applied = on_applied
        # the orders the node has open on a venue: their fills must all be booked to compare
        self.open_orders = open_orders or (lambda _venue: [])
        # books outcome pairs merged outside the node as fills; says why a venue waits
        self.merges = merges
        # the venues' balance reports waiting for a commit (the order manager): one told
        # before a read is older than its figures, one told since is newer
        self.reports = reports
        self.skipped: list[str] = []  # venues skipped by the last pass (orders in flight)
        self.waiting: dict[str, str] = {}  # venue -> why the last pass skipped it

    def beyond_tolerance(self, ledger: Decimal, venue: Decimal) -> bool:
        """Tell whether two totals differ by more than both the absolute and relative tolerance."""
        return beyond_tolerance(ledger, venue, self.tolerance_abs, self.tolerance_pct)

    async def sync_once(self, venue_name: str | None = None) -> list[Discrepancy]:
        """Poll one venue (or all), store, compare with the ledger and correct it."""
        found: list[Discrepancy] = []
        self.skipped = []
        self.waiting = {}
        if self.reference is not None:
            await self.reference.refresh()
        for name, venue in self.venues.items():
            if venue_name is not None and name != venue_name:
                continue
            busy = self.in_flight(name)
            if busy:
                # Balances move with fills not booked yet: a difference now is no adjustment.
                why = busy if isinstance(busy, str) else "it has orders in flight"
                self.skipped.append(name)
                self.waiting[name] = why
                log.info("balance sync: %s waits: %s", name, why)
                continue
            before = self._ledger_totals(name)
            # a balance report told after this is newer than the read
            told = self.reports.balances_told() if self.reports is not None else None
            try:
                balances = await venue.fetch_balances()
                unbooked = await self._unbooked_fills(name, venue)
            except VenueError as exc:
                # down, or an answer refused (a negative or unreadable figure): the ledger
                # stays as it is until a pass reads the venue again
                log.warning("balance sync: could not read balances of %s: %s", name, exc)
                self.skipped.append(name)
                self.waiting[name] = f"its balances could not be read: {exc}"
                continue
            # a fill booked while reading: the balances may predate it, the ledger holds it
            moved = self._ledger_totals(name) != before
            moved_why = "the ledger booked a fill while the balances were read" if moved else ""
            late = unbooked or moved_why or self.in_flight(name)
            if not late and self.merges is not None:
                try:  # a merge is told from sales by the venue's trades: read them too
                    late = await self.merges(name, balances)
                except VenueError as exc:
                    late = f"its trades could not be read: {exc}"
            if late:
                # A fill not booked yet, or an order started while we were reading: the
                # figures and the ledger may differ by fills, never an adjustment.
                why = late if isinstance(late, str) else "it has orders in flight"
                self.skipped.append(name)
                self.waiting[name] = why
                log.info("balance sync: %s waits: %s", name, why)
                continue
            found.extend(self._apply(name, balances, told))
            if self.on_applied is not None:
                self.on_applied(name)
        return found

    def _ledger_totals(self, venue: str) -> dict[str, Decimal]:
        book = self.portfolio.book(venue)
        return {asset: book.total(asset) for asset in book.assets()}

    async def _unbooked_fills(self, name: str, venue: Venue) -> str:
        """Why the balances just read may hold fills the ledger has not booked ("" when none
        can): an order open here that the venue no longer lists open, or lists with another
        amount filled."""
        mine = self.open_orders(name)
        if not mine:
            return ""
        symbols = sorted({o.symbol for o in mine})
        # the venue says which calls cover them at the least weight (Binance: one per symbol
        # while lighter than its account-wide list; most venues: the one list)
        lists = [await venue.fetch_open_orders(s) for s in venue.open_orders_reads(symbols)]
        reports = [r for found in lists for r in found]
        by_cid = {r.client_order_id: r for r in reports if r.client_order_id}
        # a listing without our client ids (Polymarket's CLOB, where the venue knows an
        # order's hash only from its own submit) is matched by the journal's venue order id
        by_vid = {r.venue_order_id: r for r in reports if r.venue_order_id}
        for order in mine:
            report = by_cid.get(order.client_order_id) or (
                by_vid.get(order.venue_order_id) if order.venue_order_id else None
            )
            if report is None:
                return (f"order {order.client_order_id} is no longer open on the venue; its end "
                        "is not booked yet")  # fmt: skip
            if report.filled != order.filled:
                cid, there_filled = order.client_order_id, plain(report.filled)
                return (f"order {cid}: the venue has {there_filled} filled, the ledger "
                        f"{plain(order.filled)}; a fill is on its way")  # fmt: skip
        return ""

    def _apply(
        self, venue: str, balances: list[Balance], told: int | None = None
    ) -> list[Discrepancy]:
        now = self.clock.now_ms()
        book = self.portfolio.book(venue)
        reported = {b.asset: b for b in balances}
        # An asset the ledger holds but the venue no longer lists is a venue total of zero.
        for asset in book.assets():
            if asset not in reported and book.total(asset) != 0:
                reported[asset] = Balance(venue, asset)
        found: list[Discrepancy] = []
        quiet: list[Discrepancy] = []
        usd, elsewhere = self.portfolio.values_on(venue, reported.values())
        for asset, bal in sorted(reported.items()):
            ledger_total = book.total(asset)
            if ledger_total != bal.total:
                beyond = self.beyond_tolerance(ledger_total, bal.total)
                (found if beyond else quiet).append(
                    Discrepancy(venue, asset, ledger_total, bal.total)
                )
        with self.storage.transaction():
            if self.reports is not None:
                # a report queued before the read is older: not written over these figures
                # (the ledger takes them; a restart must load them too)
                self.reports.discard_pending_balances(venue, told)
                self.reports.balances_written(venue, list(reported.values()), told)
            self.storage.upsert_balances(
                venue, list(reported.values()), usd, ts=now, elsewhere=elsewhere
            )
            for d in found:
                self.storage.record_balance_adjustment(
                    venue,
                    d.asset,
                    d.ledger_total,
                    d.venue_total,
                    f"balance sync: ledger {d.ledger_total} vs venue {d.venue_total}; "
                    "set to the venue's figure",
                    now,
                )
            for d in quiet:
                self.storage.record_balance_adjustment(
                    venue, d.asset, d.ledger_total, d.venue_total,
                    f"balance sync: {WITHIN_TOLERANCE}: ledger {d.ledger_total} vs venue "
                    f"{d.venue_total}; set to the venue's figure",
                    now,
                )  # fmt: skip
        # The venue is the source of truth, within tolerance too: small drift never accumulates.
        self.portfolio.set_balances(venue, reported.values())
        self._announce_quiet(
            venue, now, [d for d in quiet if abs(d.difference) > self.tolerance_abs]
        )
        for d in found:
            log.warning(
                "balance discrepancy on %s: %s ledger %s, venue %s (difference %s); ledger "
                "adjusted to the venue's figure",
                venue,
                name_shown(d.asset),  # a venue's name for it, however long, cut
                d.ledger_total,
                d.venue_total,
                d.difference,
            )
            self.bus.publish(
                Event(
                    kind=EventKind.BALANCE_DISCREPANCY,
                    ts=now,
                    venue=venue,
                    severity="warning",
                    data={
                        **_figures(d),
                        "usd_value": plain(usd[d.asset]) if d.asset in usd else None,
                    },
                )
            )
        return found

    def _announce_quiet(self, venue: str, now: int, moved: list[Discrepancy]) -> None:
        # Within the percent tolerance but beyond the absolute one: no fill's rounding but
        # perhaps money moved (50 USDT of 100,000). It counts as trading, so it is said, with
        # its value, where a transfer can be told apart; dust below the absolute tolerance is not.
        for d in moved:
            price = self.portfolio.price_of(d.asset)
            value = None if price is None else d.difference * price
            self.bus.publish(within_tolerance_event(venue, d, value, now))

    async def run(self, interval_s: float) -> None:
        """Sync every `interval_s` seconds until cancelled."""
        if interval_s <= 0:
            raise ConfigError(f"balance sync interval_s={interval_s} must be > 0")
        while True:
            try:
                await self.sync_once()
            except SQLAlchemyError as exc:  # a locked database, a full disk: said in one line
                log.error("balance sync pass failed: the database refused a write (%s); "
                          "nothing of it was kept, the next pass reads the venues again",
                          refusal(exc))  # fmt: skip
            except Exception:
                log.exception("balance sync pass failed")
            await asyncio.sleep(interval_s)

    def aggregate(self) -> dict[str, AssetTotal]:
        """Per-asset totals across venues from the ledger, with USD values where priced."""
        totals: dict[str, dict[str, Decimal]] = {}
        for venue in self.venues:
            for bal in self.portfolio.book(venue).all():
                if bal.total != 0:
                    totals.setdefault(bal.asset, {})[venue] = bal.total
        out: dict[str, AssetTotal] = {}
        for asset, by_venue in sorted(totals.items()):
            total = sum(by_venue.values(), ZERO)
            # each venue's holding at that venue's price, not one venue's price for all
            value: Decimal | None = ZERO
            for venue, qty in by_venue.items():
                px = self.portfolio.price_on(venue, asset)
                value = None if px is None or value is None else value + qty * px
            out[asset] = AssetTotal(asset, total, value, by_venue)
        return out
