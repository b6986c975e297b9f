"""Price-time-priority matching engine with accounts, locked balances and Binance-style fees.

Pure and synchronous: no I/O, no clock (callers pass `now_ms`), `Decimal` throughout.

Fees follow Binance spot without BNB discounts: the buyer pays the fee in the base asset it
receives, the seller in the quote asset it receives, at the maker rate when its order was resting
and the taker rate when it crossed. Fees are rounded half-up to 8 decimals and credited to the
fee account, so the total of every asset across all accounts (fee account included) never changes
by trading.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sortedcontainers import SortedDict

from tradeguard.model.money import ZERO, is_multiple, quantize_down

FEE_ACCOUNT = "__fees__"
HOUSE_ACCOUNT = "__house__"
_FEE_QUANTUM = Decimal("0.00000001")

BUY = "BUY"
SELL = "SELL"
LIMIT = "LIMIT"
MARKET = "MARKET"
LIMIT_MAKER = "LIMIT_MAKER"
ORDER_TYPES = (LIMIT, LIMIT_MAKER, MARKET)

NEW = "NEW"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELED = "CANCELED"
EXPIRED = "EXPIRED"
REJECTED = "REJECTED"
_FINAL = frozenset({FILLED, CANCELED, EXPIRED, REJECTED})


class EngineReject(Exception):
    """An order or cancel the exchange refuses, with Binance's error code and HTTP status."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status


INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """A spot market and its filters (PRICE_FILTER, LOT_SIZE, NOTIONAL) and fee rates."""

    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    min_price: Decimal = Decimal("0")
    max_price: Decimal = Decimal("1000000")
    max_qty: Decimal = Decimal("9000000")


@dataclass(slots=True)
class AssetBalance:
    """Free and locked amounts of one asset."""

    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass(slots=True)
class Account:
    """Balances of one account, keyed by asset."""

    account_id: str
    balances: dict[str, AssetBalance] = field(default_factory=dict)

    def bal(self, asset: str) -> AssetBalance:
        """Return the balance of `asset`, created at zero on first use."""
        b = self.balances.get(asset)
        if b is None:
            b = self.balances[asset] = AssetBalance()
        return b


@dataclass(slots=True)
class EngineOrder:
    """An order as the exchange keeps it."""

    order_id: int
    client_order_id: str
    account_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal  # 0 for market orders
    orig_qty: Decimal  # 0 for market orders by quote amount
    orig_quote_qty: Decimal
    created_ms: int
    updated_ms: int
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = NEW
    lock_asset: str = ""
    locked: Decimal = ZERO  # still held for this order
    seq: int = 0
    on_book: bool = False
    working: bool = False  # being filled in slices (fault injection), not on the book

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_final(self) -> bool:
        return self.status in _FINAL


@dataclass(frozen=True, slots=True)
class Trade:
    """One match between a taker and a maker order."""

    trade_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time_ms: int
    buyer_order_id: int
    seller_order_id: int
    buyer_account: str
    seller_account: str
    buyer_is_maker: bool
    buyer_fee: Decimal
    seller_fee: Decimal


@dataclass(frozen=True, slots=True)
class Execution:
    """A snapshot of an order at one event, the payload of a Binance `executionReport`."""

    account_id: str
    exec_type: str  # NEW, TRADE, CANCELED, EXPIRED, REJECTED
    order_id: int
    client_order_id: str
    orig_client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    status: str
    executed_qty: Decimal
    cum_quote: Decimal
    created_ms: int
    event_ms: int
    on_book: bool
    last_qty: Decimal = ZERO
    last_price: Decimal = ZERO
    commission: Decimal = ZERO
    commission_asset: str | None = None
    trade_id: int = -1
    is_maker: bool = False


@dataclass(slots=True)
class Result:
    """What one engine call did: the order, its trades, the events, the accounts it touched."""

    order: EngineOrder | None = None
    trades: list[Trade] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    touched: dict[str, set[str]] = field(default_factory=dict)  # account -> assets

    def touch(self, account_id: str, *assets: str) -> None:
        self.touched.setdefault(account_id, set()).update(assets)

    def merge(self, other: Result) -> None:
        self.trades.extend(other.trades)
        self.executions.extend(other.executions)
        for acc, assets in other.touched.items():
            self.touch(acc, *assets)


class _Book:
    """One market's resting orders: price -> FIFO queue, bids best-first, asks best-first."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict(lambda p: -p)
        self.asks: SortedDict = SortedDict()

    def side(self, side: str) -> SortedDict:
        return self.bids if side == BUY else self.asks

    def add(self, order: EngineOrder) -> None:
        levels = self.side(order.side)
        queue = levels.get(order.price)
        if queue is None:
            queue = levels[order.price] = deque()
        queue.append(order)
        order.on_book = True

    def remove(self, order: EngineOrder) -> None:
        levels = self.side(order.side)
        queue = levels.get(order.price)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(order)
            if not queue:
                del levels[order.price]
        order.on_book = False

    def levels(self, side: str, depth: int | None = None) -> list[tuple[Decimal, Decimal]]:
        out: list[tuple[Decimal, Decimal]] = []
        for price, queue in self.side(side).items():
            out.append((price, sum((o.remaining for o in queue), ZERO)))
            if depth is not None and len(out) >= depth:
                break
        return out


def _crosses(taker_side: str, limit: Decimal | None, maker_price: Decimal) -> bool:
    if limit is None:
        return True
    return maker_price <= limit if taker_side == BUY else maker_price >= limit


class MatchingEngine:
    """Accounts, markets and order books; every public call is one atomic exchange action."""

    def __init__(self, fee_account: str = FEE_ACCOUNT) -> None:
        self.fee_account = fee_account
        self.accounts: dict[str, Account] = {fee_account: Account(fee_account)}
        self.markets: dict[str, MarketSpec] = {}
        self.orders: dict[int, EngineOrder] = {}
        self.trades: dict[str, list[Trade]] = {}
        self._books: dict[str, _Book] = {}
        self._by_client_id: dict[tuple[str, str, str], int] = {}
        self._next_order_id = 1
        self._next_trade_id = 1
        self._seq = 0

    # -- setup -----------------------------------------------------------------------------

    def add_market(self, spec: MarketSpec) -> None:
        """Register a market (replacing its rules if it exists; the book is kept)."""
        self.markets[spec.symbol] = spec
        self._books.setdefault(spec.symbol, _Book())
        self.trades.setdefault(spec.symbol, [])

    def add_account(self, account_id: str, balances: dict[str, Decimal] | None = None) -> Account:
        """Create an account (or top up an existing one) with free balances."""
        acc = self.accounts.get(account_id)
        if acc is None:
            acc = self.accounts[account_id] = Account(account_id)
        for asset, amount in (balances or {}).items():
            acc.bal(asset).free += amount
        return acc

    def market(self, symbol: str) -> MarketSpec:
        """Return the market or raise Binance's -1121 Invalid symbol."""
        spec = self.markets.get(symbol)
        if spec is None:
            raise EngineReject(-1121, "Invalid symbol.")
        return spec

    # -- queries ---------------------------------------------------------------------------

    def depth(
        self, symbol: str, limit: int | None = None
    ) -> dict[str, list[tuple[Decimal, Decimal]]]:
        """Aggregated price levels, best first."""
        self.market(symbol)
        book = self._books[symbol]
        return {"bids": book.levels(BUY, limit), "asks": book.levels(SELL, limit)}

    def best(
        self, symbol: str
    ) -> tuple[tuple[Decimal, Decimal] | None, tuple[Decimal, Decimal] | None]:
        """Best bid and best ask as (price, qty), None where the side is empty."""
        d = self.depth(symbol, 1)
        return (d["bids"][0] if d["bids"] else None, d["asks"][0] if d["asks"] else None)

    def last_price(self, symbol: str) -> Decimal | None:
        """The last trade price, else the mid price, else None."""
        trades = self.trades.get(symbol)
        if trades:
            return trades[-1].price
        bid, ask = self.best(symbol)
        if bid and ask:
            return (bid[0] + ask[0]) / 2
        if bid or ask:
            return (bid or ask)[0]  # type: ignore[index]
        return None

    def find_order(
        self,
        account_id: str,
        symbol: str,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> EngineOrder:
        """Find an account's order by id or client order id, else raise -2013."""
        order: EngineOrder | None = None
        if order_id is not None:
            order = self.orders.get(order_id)
        elif client_order_id is not None:
            oid = self._by_client_id.get((account_id, symbol, client_order_id))
            order = self.orders.get(oid) if oid is not None else None
        if order is None or order.account_id != account_id or order.symbol != symbol:
            raise EngineReject(-2013, "Order does not exist.")
        return order

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[EngineOrder]:
        """An account's orders that are not final, oldest first."""
        return [
            o
            for o in self.orders.values()
            if o.account_id == account_id
            and not o.is_final
            and (symbol is None or o.symbol == symbol)
        ]

    def totals(self) -> dict[str, Decimal]:
        """Sum of free + locked of every asset over all accounts (the conservation check)."""
        out: dict[str, Decimal] = {}
        for acc in self.accounts.values():
            for asset, b in acc.balances.items():
                out[asset] = out.get(asset, ZERO) + b.free + b.locked
        return out

    # -- validation ------------------------------------------------------------------------

    def _check_filters(
        self,
        spec: MarketSpec,
        type_: str,
        qty: Decimal | None,
        price: Decimal | None,
        minimums: bool = True,
    ) -> None:
        if price is not None:
            if price <= 0:
                raise EngineReject(-1013, "Invalid price.")
            if (
                price < spec.min_price
                or price > spec.max_price
                or not is_multiple(price - spec.min_price, spec.tick)
            ):
                raise EngineReject(-1013, "Filter failure: PRICE_FILTER")
        if qty is not None:
            if qty <= 0:
                raise EngineReject(-1013, "Invalid quantity.")
            if (
                (minimums and qty < spec.min_qty)
                or qty > spec.max_qty
                or not is_multiple(qty, spec.step)
            ):
                name = "MARKET_LOT_SIZE" if type_ == MARKET else "LOT_SIZE"
                raise EngineReject(-1013, f"Filter failure: {name}")

    def _check_notional(self, spec: MarketSpec, notional: Decimal, minimums: bool = True) -> None:
        if minimums and notional < spec.min_notional:
            raise EngineReject(-1013, "Filter failure: NOTIONAL")

    # -- order entry -----------------------------------------------------------------------

    def place(
        self,
        account_id: str,
        symbol: str,
        side: str,
        type_: str,
        now_ms: int,
        *,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        quote_qty: Decimal | None = None,
        time_in_force: str = "GTC",
        stop_price: Decimal | None = None,
        client_order_id: str = "",
        max_fill_qty: Decimal | None = None,
        validate_only: bool = False,
        enforce_minimums: bool = True,
    ) -> Result:
        """Validate, lock funds for and match one order; raise EngineReject if refused.

        `max_fill_qty` caps what this call fills; the order then stays `working` (neither
        resting nor final) until `resume` finishes it, which is how sliced fills are injected.
        `enforce_minimums=False` skips LOT_SIZE minimum and NOTIONAL (house liquidity only).
        """
        spec = self.market(symbol)
        acc = self.accounts.get(account_id)
        if acc is None:
            raise EngineReject(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if side not in (BUY, SELL):
            raise EngineReject(-1100, "Illegal characters found in parameter 'side'.")
        if type_ in (LIMIT, LIMIT_MAKER):
            if price is None:
                raise EngineReject(
                    -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."
                )
            if qty is None:
                raise EngineReject(
                    -1102,
                    "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
                )
            if type_ == LIMIT and time_in_force not in ("GTC", "IOC", "FOK"):
                raise EngineReject(-1115, "Invalid timeInForce.")
            self._check_filters(spec, type_, qty, price, enforce_minimums)
            self._check_notional(spec, qty * price, enforce_minimums)
        elif type_ == MARKET:
            if price is not None:
                raise EngineReject(-1106, "Parameter 'price' sent when not required.")
            if (qty is None) == (quote_qty is None):
                raise EngineReject(
                    -1102,
                    "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
                )
            if qty is not None:
                self._check_filters(spec, type_, qty, None)
            elif quote_qty is not None and quote_qty <= 0:
                raise EngineReject(-1013, "Invalid quoteOrderQty.")
            time_in_force = "GTC"
        else:
            raise EngineReject(-1116, "Invalid orderType.")
        if client_order_id and (account_id, symbol, client_order_id) in self._by_client_id:
            existing = self.orders[self._by_client_id[(account_id, symbol, client_order_id)]]
            if not existing.is_final:
                raise EngineReject(-2010, "Duplicate order sent.")

        book = self._books[symbol]
        opposite = SELL if side == BUY else BUY
        limit = price if type_ != MARKET else None
        if (
            type_ == LIMIT_MAKER
            and book.side(opposite)
            and _crosses(side, limit, next(iter(book.side(opposite))))
        ):
            raise EngineReject(-2010, "Order would immediately match and take.")

        # Work out what to lock before touching anything.
        if side == BUY:
            lock_asset = spec.quote
            if type_ == MARKET:
                if quote_qty is not None:
                    need = quote_qty
                    self._check_notional(spec, quote_qty)
                else:
                    assert qty is not None
                    fill_qty, cost = self._simulate(book, side, None, qty=qty)
                    need = cost
                    ref = self.last_price(symbol)
                    if ref is not None:
                        self._check_notional(spec, qty * ref)
            else:
                assert qty is not None and price is not None
                need = qty * price
        else:
            lock_asset = spec.base
            if type_ == MARKET and quote_qty is not None:
                fill_qty, _ = self._simulate(book, side, None, quote=quote_qty, step=spec.step)
                need = fill_qty
                self._check_notional(spec, quote_qty)
            else:
                assert qty is not None
                need = qty
                if type_ == MARKET:
                    ref = self.last_price(symbol)
                    if ref is not None:
                        self._check_notional(spec, qty * ref)
        bal = acc.bal(lock_asset)
        if need > bal.free:
            raise EngineReject(-2010, INSUFFICIENT_BALANCE)
        if type_ == LIMIT and time_in_force == "FOK":
            assert qty is not None
            fillable, _ = self._simulate(book, side, limit, qty=qty)
            fok_fails = fillable < qty
        else:
            fok_fails = False
        if validate_only:
            return Result()

        order = EngineOrder(
            order_id=self._next_order_id,
            client_order_id=client_order_id or f"sandbox-{self._next_order_id}",
            account_id=account_id,
            symbol=symbol,
            side=side,
            type=type_,
            time_in_force=time_in_force,
            price=price if price is not None else ZERO,
            orig_qty=qty if qty is not None else ZERO,
            orig_quote_qty=quote_qty if quote_qty is not None else ZERO,
            created_ms=now_ms,
            updated_ms=now_ms,
            lock_asset=lock_asset,
            locked=need,
        )
        self._next_order_id += 1
        self.orders[order.order_id] = order
        self._by_client_id[(account_id, symbol, order.client_order_id)] = order.order_id
        bal.free -= need
        bal.locked += need
        result = Result(order=order)
        result.touch(account_id, lock_asset)
        result.executions.append(self._exec(order, "NEW", now_ms))
        if fok_fails:
            self._finish(order, EXPIRED, now_ms, result)
            return result
        self._match(order, now_ms, result, max_fill_qty)
        return result

    def resume(self, order_id: int, now_ms: int, max_fill_qty: Decimal | None = None) -> Result:
        """Continue matching a `working` order; without a cap, rest or expire what is left."""
        order = self.orders[order_id]
        result = Result(order=order)
        if order.is_final or not order.working:
            return result
        self._match(order, now_ms, result, max_fill_qty)
        return result

    def cancel(
        self,
        account_id: str,
        symbol: str,
        now_ms: int,
        order_id: int | None = None,
        client_order_id: str | None = None,
    ) -> Result:
        """Cancel an open order, releasing its locked funds; raise -2011 if it is not open."""
        self.market(symbol)
        try:
            order = self.find_order(account_id, symbol, order_id, client_order_id)
        except EngineReject:
            raise EngineReject(-2011, "Unknown order sent.") from None
        if order.is_final:
            raise EngineReject(-2011, "Unknown order sent.")
        result = Result(order=order)
        self._finish(order, CANCELED, now_ms, result)
        return result

    # -- internals -------------------------------------------------------------------------

    def _simulate(
        self,
        book: _Book,
        side: str,
        limit: Decimal | None,
        *,
        qty: Decimal | None = None,
        quote: Decimal | None = None,
        step: Decimal = ZERO,
    ) -> tuple[Decimal, Decimal]:
        """Walk the opposite side without changing it: (base filled, quote spent/received)."""
        filled = ZERO
        cost = ZERO
        opposite = SELL if side == BUY else BUY
        for level_price, level_qty in book.levels(opposite):
            if not _crosses(side, limit, level_price):
                break
            if qty is not None:
                take = min(level_qty, qty - filled)
            else:
                assert quote is not None
                take = min(level_qty, quantize_down((quote - cost) / level_price, step))
            if take <= 0:
                break
            filled += take
            cost += take * level_price
        return filled, cost

    def _match(
        self, order: EngineOrder, now_ms: int, result: Result, max_fill_qty: Decimal | None
    ) -> None:
        spec = self.markets[order.symbol]
        book = self._books[order.symbol]
        opposite_levels = book.side(SELL if order.side == BUY else BUY)
        limit = order.price if order.type != MARKET else None
        budget = max_fill_qty
        by_quote = order.type == MARKET and order.orig_quote_qty > 0
        while opposite_levels:
            level_price = next(iter(opposite_levels))
            if not _crosses(order.side, limit, level_price):
                break
            queue = opposite_levels[level_price]
            maker = queue[0]
            if by_quote:
                want = quantize_down(
                    (order.orig_quote_qty - order.cum_quote) / level_price, spec.step
                )
            else:
                want = order.remaining
            qty = min(want, maker.remaining)
            if budget is not None:
                qty = min(qty, budget)
            if qty <= 0:
                break
            self._fill(spec, order, maker, level_price, qty, now_ms, result)
            if budget is not None:
                budget -= qty
            if maker.remaining == 0:
                queue.popleft()
                maker.on_book = False
                if not queue:
                    del opposite_levels[level_price]
                self._finish(maker, FILLED, now_ms, result, emit=False)
        done = order.remaining == 0 if not by_quote else False
        if done:
            order.working = False
            self._finish(order, FILLED, now_ms, result, emit=False)
            return
        if budget is not None and budget <= 0:
            # Capped slice: keep it working; `resume` continues later.
            order.working = True
            return
        order.working = False
        if (order.type == LIMIT and order.time_in_force == "GTC") or order.type == LIMIT_MAKER:
            self._seq += 1
            order.seq = self._seq
            book.add(order)
            return
        if by_quote:
            # A quote-sized market order is done once the rest cannot buy one more step.
            order.orig_qty = order.executed_qty
            left = order.orig_quote_qty - order.cum_quote
            best = next(iter(opposite_levels)) if opposite_levels else None
            if order.executed_qty > 0 and (
                left == 0 or (best is not None and quantize_down(left / best, spec.step) <= 0)
            ):
                self._finish(order, FILLED, now_ms, result, emit=False)
                return
        self._finish(order, EXPIRED, now_ms, result)

    def _fee(self, amount: Decimal, rate: Decimal) -> Decimal:
        return (amount * rate).quantize(_FEE_QUANTUM, rounding=ROUND_HALF_UP)

    def _fill(
        self,
        spec: MarketSpec,
        taker: EngineOrder,
        maker: EngineOrder,
        price: Decimal,
        qty: Decimal,
        now_ms: int,
        result: Result,
    ) -> None:
        quote_amt = qty * price
        buy, sell = (taker, maker) if taker.side == BUY else (maker, taker)
        buyer_is_maker = buy is maker
        buyer_rate = spec.maker_fee if buyer_is_maker else spec.taker_fee
        seller_rate = spec.taker_fee if buyer_is_maker else spec.maker_fee
        buyer_fee = self._fee(qty, buyer_rate)
        seller_fee = self._fee(quote_amt, seller_rate)
        fees = self.accounts[self.fee_account]

        buyer = self.accounts[buy.account_id]
        qb = buyer.bal(spec.quote)
        # A limit buy locked qty * its limit; release the price improvement with the spend.
        release = qty * buy.price if buy.type != MARKET else quote_amt
        release = min(release, buy.locked)
        qb.locked -= release
        buy.locked -= release
        qb.free += release - quote_amt
        buyer.bal(spec.base).free += qty - buyer_fee
        fees.bal(spec.base).free += buyer_fee

        seller = self.accounts[sell.account_id]
        sb = seller.bal(spec.base)
        sb.locked -= qty
        sell.locked -= qty
        seller.bal(spec.quote).free += quote_amt - seller_fee
        fees.bal(spec.quote).free += seller_fee

        trade = Trade(
            trade_id=self._next_trade_id,
            symbol=spec.symbol,
            price=price,
            qty=qty,
            quote_qty=quote_amt,
            time_ms=now_ms,
            buyer_order_id=buy.order_id,
            seller_order_id=sell.order_id,
            buyer_account=buy.account_id,
            seller_account=sell.account_id,
            buyer_is_maker=buyer_is_maker,
            buyer_fee=buyer_fee,
            seller_fee=seller_fee,
        )
        self._next_trade_id += 1
        self.trades[spec.symbol].append(trade)
        result.trades.append(trade)
        for o, fee, fee_asset in ((buy, buyer_fee, spec.base), (sell, seller_fee, spec.quote)):
            o.executed_qty += qty
            o.cum_quote += quote_amt
            o.updated_ms = now_ms
            full = o.type != MARKET or o.orig_quote_qty == 0
            o.status = FILLED if full and o.remaining == 0 else PARTIALLY_FILLED
            result.touch(o.account_id, spec.base, spec.quote)
            result.touch(self.fee_account, fee_asset)
            result.executions.append(
                self._exec(
                    o,
                    "TRADE",
                    now_ms,
                    last_qty=qty,
                    last_price=price,
                    commission=fee,
                    commission_asset=fee_asset,
                    trade_id=trade.trade_id,
                    is_maker=o is maker,
                )
            )

    def _finish(
        self, order: EngineOrder, status: str, now_ms: int, result: Result, emit: bool = True
    ) -> None:
        if order.on_book:
            self._books[order.symbol].remove(order)
        if order.locked > 0:
            bal = self.accounts[order.account_id].bal(order.lock_asset)
            bal.locked -= order.locked
            bal.free += order.locked
            result.touch(order.account_id, order.lock_asset)
            order.locked = ZERO
        order.status = status
        order.working = False
        order.updated_ms = now_ms
        if emit:
            result.executions.append(self._exec(order, status, now_ms))

    def _exec(self, order: EngineOrder, exec_type: str, now_ms: int, **kw: object) -> Execution:
        return Execution(
            account_id=order.account_id,
            exec_type=exec_type,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            orig_client_order_id="",
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            time_in_force=order.time_in_force,
            price=order.price,
            orig_qty=order.orig_qty,
            orig_quote_qty=order.orig_quote_qty,
            status=order.status,
            executed_qty=order.executed_qty,
            cum_quote=order.cum_quote,
            created_ms=order.created_ms,
            event_ms=now_ms,
            on_book=order.on_book,
            **kw,  # type: ignore[arg-type]
        )

    # -- house liquidity -------------------------------------------------------------------

    def set_book(
        self,
        symbol: str,
        bids: Iterable[tuple[Decimal, Decimal]],
        asks: Iterable[tuple[Decimal, Decimal]],
        now_ms: int,
        house: str = HOUSE_ACCOUNT,
    ) -> Result:
        """Replace the house account's resting orders; crossing levels trade with resting orders."""
        spec = self.market(symbol)
        result = Result()
        for o in self.open_orders(house, symbol):
            result.merge(self.cancel(house, symbol, now_ms, order_id=o.order_id))
        bids = list(bids)
        asks = list(asks)
        need_quote = sum((p * q for p, q in bids), ZERO)
        need_base = sum((q for _, q in asks), ZERO)
        acc = self.add_account(house)
        # The house never runs dry: top it up to what this book needs.
        if acc.bal(spec.quote).free < need_quote:
            acc.bal(spec.quote).free = need_quote
        if acc.bal(spec.base).free < need_base:
            acc.bal(spec.base).free = need_base
        for side, levels in ((SELL, asks), (BUY, bids)):
            for p, q in levels:
                result.merge(self._house_order(house, symbol, side, p, q, now_ms, "GTC"))
        return result

    def trade_through(
        self,
        symbol: str,
        side: str,
        price: Decimal,
        qty: Decimal,
        now_ms: int,
        house: str = HOUSE_ACCOUNT,
    ) -> Result:
        """Have the house send an IOC limit order that trades with resting orders up to `price`."""
        spec = self.market(symbol)
        acc = self.add_account(house)
        if side == BUY and acc.bal(spec.quote).free < qty * price:
            acc.bal(spec.quote).free = qty * price
        if side == SELL and acc.bal(spec.base).free < qty:
            acc.bal(spec.base).free = qty
        return self._house_order(house, symbol, side, price, qty, now_ms, "IOC")

    def _house_order(
        self,
        house: str,
        symbol: str,
        side: str,
        price: Decimal,
        qty: Decimal,
        now_ms: int,
        tif: str,
    ) -> Result:
        return self.place(
            house,
            symbol,
            side,
            LIMIT,
            now_ms,
            qty=qty,
            price=price,
            time_in_force=tif,
            enforce_minimums=False,
        )
