"""Price-time-priority matching engine with accounts, locked balances and Binance-style fees.

Pure and synchronous: no I/O, no clock (callers pass `now_ms`), `Decimal` throughout.

What a trade moves between accounts (balances, fees in the asset received or in BNB) is
`sandbox/trade_settlement.py`: the total of every asset across all accounts, fee account
included, never changes by trading.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from tradeguard.model.money import ZERO, quantize_down
from tradeguard.sandbox.book import Book, crosses, simulate
from tradeguard.sandbox.contingent import ContingentOrders, check_trigger
from tradeguard.sandbox.house import house_trade, set_house_book
from tradeguard.sandbox.orders import (
    BUY,
    CANCELED,
    EXPIRED,
    FEE_ACCOUNT,
    FILLED,
    HOUSE_ACCOUNT,
    INSUFFICIENT_BALANCE,
    LIMIT,
    LIMIT_MAKER,
    MARKET,
    NEW,
    ORDER_TYPES,
    PARTIALLY_FILLED,
    REJECTED,
    SELL,
    STOP_LOSS,
    STOP_LOSS_LIMIT,
    TAKE_PROFIT,
    TAKE_PROFIT_LIMIT,
    TRIGGERED_KIND,
    Account,
    AssetBalance,
    EngineOrder,
    EngineReject,
    Execution,
    MarketSpec,
    Result,
    Trade,
)
from tradeguard.sandbox.trade_settlement import settle_trade, trade_fee
from tradeguard.sandbox.validation import lock_need, validate

__all__ = [
    "BUY", "CANCELED", "EXPIRED", "FEE_ACCOUNT", "FILLED", "HOUSE_ACCOUNT",
    "INSUFFICIENT_BALANCE", "LIMIT", "LIMIT_MAKER", "MARKET", "NEW", "ORDER_TYPES",
    "PARTIALLY_FILLED", "REJECTED", "SELL", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT", "TRIGGERED_KIND", "Account", "AssetBalance", "EngineOrder",
    "EngineReject", "Execution", "MarketSpec", "MatchingEngine", "Result", "Trade",
]  # fmt: skip

_MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."


class MatchingEngine:
    """Accounts, markets and order books; every public call is one atomic exchange action."""

    def __init__(self, fee_account: str = FEE_ACCOUNT) -> None:
        self.fee_account = fee_account
        self.accounts: dict[str, Account] = {fee_account: Account(fee_account)}
        self.markets: dict[str, MarketSpec] = {}
        self.orders: dict[int, EngineOrder] = {}
        self.trades: dict[str, list[Trade]] = {}
        self._books: dict[str, Book] = {}
        self._by_client_id: dict[tuple[str, str, str], int] = {}
        self._next_order_id = 1
        self._next_trade_id = 1
        self._seq = 0
        self.contingent = ContingentOrders(self)

    # -- setup -----------------------------------------------------------------------------

    def add_market(self, spec: MarketSpec) -> None:
        """Register a market (replacing its rules if it exists; the book is kept)."""
        self.markets[spec.symbol] = spec
        self._books.setdefault(spec.symbol, Book())
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
        order_list_id: int = -1,
        hold_funds: bool = True,
    ) -> Result:
        """Validate, lock funds for and match one order; raise EngineReject if refused.

        `max_fill_qty` caps what this call fills; the order then stays `working` (neither
        resting nor final) until `resume` finishes it, which is how sliced fills are injected.
        `enforce_minimums=False` skips LOT_SIZE minimum and NOTIONAL (house liquidity only).
        Stop orders (`STOP_LOSS[_LIMIT]`, `TAKE_PROFIT[_LIMIT]`) wait, funds locked, until
        `trigger_stops` sees a trade cross `stop_price`; an order list's stop leg locks nothing
        until then, as its other leg holds the funds.
        """
        spec = self.market(symbol)
        acc = self.accounts.get(account_id)
        if acc is None:
            raise EngineReject(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if side not in (BUY, SELL):
            raise EngineReject(-1100, "Illegal characters found in parameter 'side'.")
        time_in_force = validate(
            spec, type_, qty, price, quote_qty, stop_price, time_in_force, enforce_minimums
        )
        self._check_state(account_id, symbol, side, type_, price, stop_price, client_order_id)
        book = self._books[symbol]
        limit = price if TRIGGERED_KIND.get(type_, type_) != MARKET else None
        lock_asset, need = self._reserve(acc, spec, side, lock_need(
            spec, book, side, type_, qty, price, quote_qty, stop_price, hold_funds,
            self.last_price(spec.symbol),
        ))  # fmt: skip
        fok_fails = False
        if type_ == LIMIT and time_in_force == "FOK":
            assert qty is not None
            fillable, _ = simulate(book, side, limit, qty=qty)
            fok_fails = fillable < qty
        if validate_only:
            return Result()
        order = self._open(
            EngineOrder(
                order_id=self._next_order_id,
                client_order_id=client_order_id or f"sandbox-{self._next_order_id}",
                account_id=account_id, symbol=symbol, side=side, type=type_,
                time_in_force=time_in_force,
                price=price if price is not None else ZERO,
                orig_qty=qty if qty is not None else ZERO,
                orig_quote_qty=quote_qty if quote_qty is not None else ZERO,
                created_ms=now_ms, updated_ms=now_ms, lock_asset=lock_asset, locked=need,
                stop_price=stop_price if stop_price is not None else ZERO,
                order_list_id=order_list_id,
            )
        )  # fmt: skip
        result = Result(order=order)
        result.touch(account_id, lock_asset)
        result.executions.append(self._exec(order, "NEW", now_ms))
        if type_ in TRIGGERED_KIND:
            self.contingent.hold(order)
        elif fok_fails:
            self._finish(order, EXPIRED, now_ms, result)
        else:
            self._match(order, now_ms, result, max_fill_qty)
        return result

    def _reserve(
        self, acc: Account, spec: MarketSpec, side: str, lock: tuple[str, Decimal]
    ) -> tuple[str, Decimal]:
        """The asset and amount an order locks: `lock` (see `lock_need`), and a quote-fee
        market's buy locks its taker fee too; EngineReject when the free balance cannot cover it."""
        lock_asset, need = lock
        if spec.fee_in_quote and side == BUY:
            need += trade_fee(need, spec.taker_fee)
        if need > acc.bal(lock_asset).free:
            raise EngineReject(-2010, INSUFFICIENT_BALANCE)
        return lock_asset, need

    def _check_state(
        self,
        account_id: str,
        symbol: str,
        side: str,
        type_: str,
        price: Decimal | None,
        stop_price: Decimal | None,
        client_order_id: str,
    ) -> None:
        """Refuse what the book or the account's orders forbid now (-2010)."""
        if client_order_id and (account_id, symbol, client_order_id) in self._by_client_id:
            existing = self.orders[self._by_client_id[(account_id, symbol, client_order_id)]]
            if not existing.is_final:
                raise EngineReject(-2010, "Duplicate order sent.")
        opposite = self._books[symbol].side(SELL if side == BUY else BUY)
        if type_ == LIMIT_MAKER and opposite and crosses(side, price, next(iter(opposite))):
            raise EngineReject(-2010, "Order would immediately match and take.")
        if type_ in TRIGGERED_KIND:
            assert stop_price is not None
            check_trigger(type_, side, stop_price, self.last_price(symbol))

    def _open(self, order: EngineOrder) -> EngineOrder:
        """Register a new order and move its funds from free to locked."""
        self._next_order_id += 1
        self.orders[order.order_id] = order
        self._by_client_id[(order.account_id, order.symbol, order.client_order_id)] = order.order_id
        bal = self.accounts[order.account_id].bal(order.lock_asset)
        bal.free -= order.locked
        bal.locked += order.locked
        return order

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
        self.contingent.cancel_siblings(order, now_ms, result)
        return result

    def trigger_stops(self, symbol: str, now_ms: int) -> Result:
        """Activate the stop orders the last trade of `symbol` has crossed."""
        return self.contingent.trigger(symbol, now_ms)

    def activate(self, order: EngineOrder, now_ms: int, result: Result) -> None:
        """Turn a triggered stop order into its market or limit order: lock funds, match."""
        bal = self.accounts[order.account_id].bal(order.lock_asset)
        bal.locked -= order.locked
        bal.free += order.locked
        order.locked = ZERO
        if order.side == SELL:
            need = order.orig_qty
        elif order.kind == MARKET:
            _, need = simulate(self._books[order.symbol], BUY, None, qty=order.orig_qty)
        else:
            need = order.orig_qty * order.price
        order.triggered = True
        order.updated_ms = now_ms
        result.touch(order.account_id, order.lock_asset)
        if need > bal.free:
            self._finish(order, EXPIRED, now_ms, result)
            return
        bal.free -= need
        bal.locked += need
        order.locked = need
        self._match(order, now_ms, result, None)

    def close(self, order: EngineOrder, status: str, now_ms: int, result: Result) -> None:
        """End an open order with `status` (CANCELED, EXPIRED), releasing its funds."""
        self._finish(order, status, now_ms, result)

    # -- internals -------------------------------------------------------------------------
    def _match(
        self, order: EngineOrder, now_ms: int, result: Result, max_fill_qty: Decimal | None
    ) -> None:
        spec = self.markets[order.symbol]
        book = self._books[order.symbol]
        opposite_levels = book.side(SELL if order.side == BUY else BUY)
        limit = order.price if order.kind != MARKET else None
        budget = max_fill_qty
        by_quote = order.kind == MARKET and order.orig_quote_qty > 0
        while opposite_levels:
            level_price = next(iter(opposite_levels))
            if not crosses(order.side, limit, level_price):
                break
            queue = opposite_levels[level_price]
            maker = queue[0]
            if (
                spec.self_trade_cancels_newest
                and maker.account_id == order.account_id != HOUSE_ACCOUNT
            ):
                self._finish(order, CANCELED, now_ms, result)  # it would trade with its own
                return
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
        if (order.kind == LIMIT and order.time_in_force == "GTC") or order.kind == LIMIT_MAKER:
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

    def _bnb_price(self, symbol: str) -> Decimal | None:
        return self.last_price(symbol) if symbol in self.markets else None

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
        (buyer_fee, buyer_asset), (seller_fee, seller_asset) = settle_trade(
            self.accounts, self.fee_account, spec, buy, sell, buyer_is_maker, qty, quote_amt,
            self._bnb_price,
        )  # fmt: skip
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
            buyer_fee_asset=buyer_asset,
            seller_fee_asset=seller_asset,
        )
        self._next_trade_id += 1
        self.trades[spec.symbol].append(trade)
        result.trades.append(trade)
        for o, fee, fee_asset in ((buy, buyer_fee, buyer_asset), (sell, seller_fee, seller_asset)):
            o.executed_qty += qty
            o.cum_quote += quote_amt
            o.updated_ms = now_ms
            full = o.kind != MARKET or o.orig_quote_qty == 0
            o.status = FILLED if full and o.remaining == 0 else PARTIALLY_FILLED
            result.touch(o.account_id, spec.base, spec.quote, fee_asset)
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
            if o.order_list_id >= 0:
                self.contingent.cancel_siblings(o, now_ms, result)

    def _finish(
        self, order: EngineOrder, status: str, now_ms: int, result: Result, emit: bool = True
    ) -> None:
        if order.on_book:
            self._books[order.symbol].remove(order)
        if order.type in TRIGGERED_KIND and not order.triggered:
            self.contingent.remove(order)
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
            stop_price=order.stop_price,
            order_list_id=order.order_list_id,
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
        return set_house_book(self, symbol, bids, asks, now_ms, house)

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
        return house_trade(self, symbol, side, price, qty, now_ms, house)
