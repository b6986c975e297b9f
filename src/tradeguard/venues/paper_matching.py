"""Paper fills: balance locks, executions and matching against candles, trades, books and quotes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance, BalanceBook
from tradeguard.model.enums import LiquiditySide, OrderStatus, OrderType, TimeInForce
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, TradeTick
from tradeguard.model.money import ONE, ZERO, quantize_down
from tradeguard.model.reports import OrderReport
from tradeguard.venues.base import Venue, VenueListener
from tradeguard.venues.fill_model import FillConfig, candle_taker_price, take, walk_levels
from tradeguard.venues.paper_state import (
    IMMEDIATE,
    MAKER,
    TAKER,
    PaperMarket,
    PaperOrder,
    book_traded,
    is_crossed,
    own_position,
    quote_crossed,
)


class PaperMatching(Venue):
    """Match working orders against market data, book the fills and push them to the listener."""

    instruments: dict[str, Instrument]
    clock: Clock
    config: FillConfig
    _balances: BalanceBook
    _markets: dict[str, PaperMarket]
    _orders: dict[str, PaperOrder]
    _order_n: int
    _trade_n: int
    _pushed: dict[str, Balance]

    # balances ----------------------------------------------------------------------------------
    def _lock(self, po: PaperOrder, inst: Instrument, amount: Decimal | None = None) -> None:
        qty = po.amount if amount is None else amount
        if po.is_buy:
            if po.price is None:
                return
            po.lock_asset = inst.quote
            po.lock_per_unit = po.price * (ONE + max(inst.maker_fee, inst.taker_fee))
            po.locked = self.buy_cost_bound(inst, po.price, qty, limit=True)
        else:
            po.lock_asset = inst.base
            po.lock_per_unit = ONE
            po.locked = qty
        bal = self._balances.get(po.lock_asset)
        bal.free -= po.locked
        bal.locked += po.locked

    def _release(self, po: PaperOrder) -> None:
        if po.locked:
            bal = self._balances.get(po.lock_asset)
            bal.locked -= po.locked
            bal.free += po.locked
            po.locked = ZERO

    def _balance_copies(self) -> list[Balance]:
        return [Balance(b.venue, b.asset, b.free, b.locked) for b in self._balances.all()]

    def buy_cost_bound(
        self, inst: Instrument, price: Decimal, amount: Decimal, *, limit: bool
    ) -> Decimal:
        """The most a buy of `amount` at `price` may cost, fees included (checked and locked);
        venues with another fee model override this."""
        rate = max(inst.maker_fee, inst.taker_fee) if limit else inst.taker_fee
        return amount * price * (ONE + rate)

    def lock_release(
        self, po: PaperOrder, qty: Decimal, notional: Decimal, fee: Decimal
    ) -> Decimal:
        """What a buy's fill of `qty` frees of its lock (the rest goes when the order ends)."""
        return po.lock_per_unit * qty

    # execution ---------------------------------------------------------------------------------
    def fee_for(
        self, inst: Instrument, price: Decimal, qty: Decimal, liquidity: LiquiditySide
    ) -> Decimal:
        """The fee of one execution; venues with another fee model override this."""
        return price * qty * (inst.maker_fee if liquidity is MAKER else inst.taker_fee)

    def _execute(
        self,
        po: PaperOrder,
        m: PaperMarket,
        price: Decimal,
        qty: Decimal,
        liquidity: LiquiditySide,
        ts: int,
    ) -> Fill:
        inst = m.inst
        notional = price * qty
        fee = self.fee_for(inst, price, qty, liquidity)
        base = self._balances.get(inst.base)
        quote = self._balances.get(inst.quote)
        if po.is_buy:
            if po.lock_asset:
                release = self.lock_release(po, qty, notional, fee)
                po.locked -= release
                quote.locked -= release
                quote.free += release - notional - fee
            else:
                quote.free -= notional + fee
            base.free += qty
            book_traded(m, po.strategy_id, qty)
        else:
            po.locked -= qty
            base.locked -= qty
            quote.free += notional - fee
            book_traded(m, po.strategy_id, -qty)
        po.filled += qty
        po.cost += notional
        po.fee += fee
        po.updated_ts = ts
        if po.filled == po.amount:
            po.status = OrderStatus.FILLED
            self._release(po)  # a buy that filled below its limit leaves some lock behind
        else:
            po.status = OrderStatus.PARTIALLY_FILLED
        self._trade_n += 1
        # positional, in the fields' order (keywords cost more than the rest of the call)
        fill = Fill(
            self.name, po.symbol, po.client_order_id, po.venue_order_id,
            f"{self.name}-t{self._trade_n}", po.side, price, qty, fee, inst.quote, liquidity, ts,
        )  # fmt: skip
        m.fills.append(fill)
        return fill

    def _close(self, po: PaperOrder, status: OrderStatus, ts: int, reason: str) -> None:
        po.status = status
        po.reason = reason
        po.updated_ts = ts
        po.taker_pending = False
        self._release(po)
        m = self._markets[po.symbol]
        if po in m.working:
            m.working.remove(po)

    def _finish_immediate(self, po: PaperOrder, ts: int, why: str) -> None:
        """Expire what an order that may not rest could not fill."""
        if po.status is OrderStatus.FILLED:
            return
        m = self._markets.get(po.symbol)
        if po.reduce_only and m is not None and _reducible(po, m) <= 0:
            why = (
                f"reduce-only: filled {po.filled} of {po.amount}, all the position of "
                f"{po.strategy_id or 'the account'} on {po.symbol} it may reduce; the rest expired"
            )
        self._close(po, OrderStatus.EXPIRED, ts, why)

    def _on_arrival(self, po: PaperOrder, m: PaperMarket, now: int) -> list[Fill]:
        buy = po.is_buy
        stale = self.config.stale_after_ms
        levels: list[tuple[Decimal, Decimal]] | None = None
        taken: dict[Decimal, Decimal] = {}
        source = ""
        fresh_book = m.book is not None and now - m.book.ts <= stale
        if fresh_book and m.book is not None and not is_crossed(m.book):
            levels = m.book.asks() if buy else m.book.bids()
            taken = m.book_asks_taken if buy else m.book_bids_taken
            source = "book"
        elif fresh_book:  # crossed: invalid until it uncrosses, and no quote fallback either
            if po.type is OrderType.MARKET or po.tif in IMMEDIATE:  # may not wait for it
                why = f"the {po.symbol} book is crossed (best bid at or above best ask)"
                self._finish_immediate(po, now, f"{why}: nothing to take; the order expired")
                return []
        elif m.quote is not None and now - m.quote.ts <= stale and not quote_crossed(m.quote):
            q = m.quote
            levels = [(q.ask, q.ask_size)] if buy else [(q.bid, q.bid_size)]
            taken = m.quote_ask_taken if buy else m.quote_bid_taken
            source = "quote"
        if levels is None:
            # Candles only: nothing can trade before the next bar opens ("next_open"), or
            # a taker fills now at the last close ("in_candle", while that close is fresh).
            if po.type is OrderType.MARKET or po.tif in IMMEDIATE:
                po.taker_pending = True
            elif m.candle is not None:
                assert po.price is not None
                close = m.candle.close
                po.taker_pending = po.price >= close if buy else po.price <= close
            candle = m.candle
            if (
                po.taker_pending
                and self.config.fill_at == "in_candle"
                and candle is not None
                and candle.close_ts <= now <= candle.close_ts + stale
            ):
                return self._fill_in_candle(po, m, candle, now)
            return []
        inst = m.inst
        budget = None
        if buy and not po.lock_asset:
            budget = self._balances.free(inst.quote)
        pieces = walk_levels(
            levels,
            taken,
            min(po.amount, _reducible(po, m)) if po.reduce_only else po.amount,
            inst.amount_step,
            buy=buy,
            limit=po.worst_price,
            quote_budget=budget,
            fee_rate=inst.taker_fee,
        )
        if po.tif is TimeInForce.FOK and sum((q for _, q in pieces), ZERO) < po.amount:
            pieces = []
        take(taken, pieces)
        fills = [self._execute(po, m, p, q, TAKER, now) for p, q in pieces]
        if po.status is not OrderStatus.FILLED and (
            po.type is OrderType.MARKET or po.tif in IMMEDIATE
        ):
            self._finish_immediate(
                po,
                now,
                f"{po.tif.value if po.type is OrderType.LIMIT else 'market'} order filled "
                f"{po.filled} of {po.amount} from the {source} (liquidity, limit price and free "
                "balance allowing); the rest expired",
            )
        return fills

    def _candle_taker(
        self, po: PaperOrder, m: PaperMarket, candle: Candle, room: Decimal, at: Decimal
    ) -> tuple[Decimal, Decimal]:
        """(price, amount) of a taker fill on `candle` from price `at`, within `room` volume.

        The amount is what free quote can pay (market buys) and 0 when the price would be
        beyond a limit order's own price, or when a FOK order cannot fill whole.
        """
        inst, cfg, step, buy = m.inst, self.config, m.inst.amount_step, po.is_buy
        qty = min(po.remaining, quantize_down(room, step))
        if po.reduce_only:  # never opens or grows the net position, whatever fired before it
            qty = min(qty, _reducible(po, m))
        price = ZERO
        if qty > ZERO:
            price = candle_taker_price(candle, buy, qty, cfg, inst.price_tick, at=at)
            if buy and not po.lock_asset:
                free = self._balances.free(inst.quote)
                afford = quantize_down(free / (price * (ONE + inst.taker_fee)), step)
                if afford < qty:
                    qty = afford
                    if qty > ZERO:
                        # Less participation, less impact: the price only improves.
                        price = candle_taker_price(candle, buy, qty, cfg, inst.price_tick, at=at)
            worst = po.worst_price
            if worst is not None and (price > worst if buy else price < worst):
                qty = ZERO  # beyond the limit (it rests) or a market order's bound (it expires)
        if po.tif is TimeInForce.FOK and qty < po.remaining:
            qty = ZERO
        return price, qty

    def _fill_in_candle(
        self, po: PaperOrder, m: PaperMarket, candle: Candle, now: int
    ) -> list[Fill]:
        """Fill a taker at once at `candle`'s close moved against us, within its volume cap."""
        po.taker_pending = False
        room = candle.volume * self.config.max_participation - m.candle_used
        price, qty = self._candle_taker(po, m, candle, room, candle.close)
        fills: list[Fill] = []
        if qty > ZERO:
            fills.append(self._execute(po, m, price, qty, TAKER, now))
            m.candle_used += qty
        if po.status is not OrderStatus.FILLED and (
            po.type is OrderType.MARKET or po.tif in IMMEDIATE
        ):
            self._finish_immediate(
                po, now,
                f"filled {po.filled} of {po.amount} in the candle it was placed on "
                f"(at most {self.config.max_participation} of its volume {candle.volume}); "
                "the rest expired",
            )  # fmt: skip
        return fills

    def _match_candle(self, m: PaperMarket, candle: Candle) -> None:
        low, high, ts = candle.low, candle.high, candle.ts
        # Only orders this bar can touch: pending takers, and limits it trades through.
        orders = [
            po
            for po in m.working
            if ts > po.after_candle_ts
            and (
                po.taker_pending
                or (po.price is not None and (low < po.price if po.is_buy else high > po.price))
            )
        ]
        if not orders:
            return
        inst = m.inst
        cfg = self.config
        step = inst.amount_step
        cap = candle.volume * cfg.max_participation
        used = ZERO
        fills: list[Fill] = []
        touched: list[PaperOrder] = []
        for po in orders:
            if not po.taker_pending:
                continue
            touched.append(po)
            po.taker_pending = False
            price, qty = self._candle_taker(po, m, candle, cap - used, candle.open)
            if qty > ZERO:
                fills.append(self._execute(po, m, price, qty, TAKER, candle.ts))
                used += qty
            if po.status is not OrderStatus.FILLED and (
                po.type is OrderType.MARKET or po.tif in IMMEDIATE
            ):  # a filled order has nothing left to expire (nor a reason to format)
                self._finish_immediate(
                    po, candle.close_ts,
                    f"filled {po.filled} of {po.amount} on the next candle "
                    f"(at most {cfg.max_participation} of its volume {candle.volume}); "
                    "the rest expired",
                )  # fmt: skip
        for po in orders:
            if po.taker_pending or po.status.is_terminal or po.price is None:
                continue
            if not (candle.low < po.price if po.is_buy else candle.high > po.price):
                continue
            qty = min(po.remaining, quantize_down(cap - used, step))
            if qty <= ZERO:
                break
            qty = min(qty, _reducible(po, m)) if po.reduce_only else qty
            if qty <= ZERO:
                continue  # a reduce-only order with nothing left to reduce rests unfilled
            fills.append(self._execute(po, m, po.price, qty, MAKER, candle.close_ts))
            used += qty
            if po not in touched:
                touched.append(po)
        self._settle(m, fills, touched)

    def _match_trade(self, m: PaperMarket, trade: TradeTick) -> None:
        step = m.inst.amount_step
        used = ZERO
        fills: list[Fill] = []
        touched: list[PaperOrder] = []
        for po in list(m.working):
            if po.taker_pending or po.price is None:
                continue
            if not (trade.price < po.price if po.is_buy else trade.price > po.price):
                continue
            qty = min(po.remaining, quantize_down(trade.amount - used, step))
            if qty <= ZERO:
                break
            qty = min(qty, _reducible(po, m)) if po.reduce_only else qty
            if qty <= ZERO:
                continue
            fills.append(self._execute(po, m, po.price, qty, MAKER, trade.ts))
            used += qty
            touched.append(po)
        self._settle(m, fills, touched)

    def _match_levels(
        self,
        m: PaperMarket,
        bids: list[tuple[Decimal, Decimal]],
        asks: list[tuple[Decimal, Decimal]],
        ts: int,
        is_quote: bool,
    ) -> None:
        step = m.inst.amount_step
        fills: list[Fill] = []
        touched: list[PaperOrder] = []
        for po in list(m.working):
            if po.taker_pending or po.price is None:
                continue
            buy = po.is_buy
            if is_quote:
                taken = m.quote_ask_taken if buy else m.quote_bid_taken
            else:
                taken = m.book_asks_taken if buy else m.book_bids_taken
            most = min(po.remaining, _reducible(po, m)) if po.reduce_only else po.remaining
            pieces = walk_levels(
                asks if buy else bids, taken, most, step,
                buy=buy, limit=po.price, inclusive=False,
            )  # fmt: skip
            if not pieces:
                continue
            take(taken, pieces)
            qty = sum((q for _, q in pieces), ZERO)
            fills.append(self._execute(po, m, po.price, qty, MAKER, ts))
            touched.append(po)
        self._settle(m, fills, touched)

    def _settle(self, m: PaperMarket, fills: list[Fill], touched: list[PaperOrder]) -> None:
        if not touched:
            return
        for po in touched:
            if po.status.is_terminal and po in m.working:
                m.working.remove(po)
        self._push(fills, touched, bool(fills) or any(po.status.is_terminal for po in touched))

    # listener ----------------------------------------------------------------------------------
    # Every change of this account's balances is followed by a push (an order, a fill, a cancel,
    # an expiry), so a list built later, before the next change, is the one pushed last: a
    # listener that writes only the last report before its commit (`on_balances_later`, a
    # backtest's write batch) is handed what builds the list instead of a list per push.
    # False where balances change without a push of their own (an outcome venue's payouts).
    defers_balance_copies = True
    _balances_later: Callable[[str, Callable[[], list[Balance]]], bool] | None = None

    def set_listener(self, listener: VenueListener) -> None:
        super().set_listener(listener)
        later = getattr(listener, "on_balances_later", None)
        self._balances_later = later if self.defers_balance_copies else None

    def _push(self, fills: Iterable[Fill], reports: list[PaperOrder], balances: bool) -> None:
        listener = self._listener
        if listener is None:
            return
        for fill in fills:
            listener.on_fill(fill)
        for po in reports:
            listener.on_order_report(self._report(po))
        if balances:
            later = self._balances_later
            if later is None or not later(self.name, self._pushed_copies):
                listener.on_balances(self.name, self._pushed_copies())

    def _pushed_copies(self) -> list[Balance]:
        """`_balance_copies` for the listener: an asset whose figures did not move since the
        last push gets the same copy again (a push follows every order and fill, and most of
        an account's assets stay put). A pushed copy is never changed, here or by a listener."""
        pushed = self._pushed
        out = []
        for b in self._balances.values():
            c = pushed.get(b.asset)
            if c is None or c.free is not b.free or c.locked is not b.locked:
                c = pushed[b.asset] = Balance(b.venue, b.asset, b.free, b.locked)
            out.append(c)
        return out

    def _report(self, po: PaperOrder) -> OrderReport:
        # positional, in the fields' order: two reports an order
        return OrderReport(
            self.name, po.symbol, po.client_order_id, po.venue_order_id, po.status, po.filled,
            po.cost / po.filled if po.filled else ZERO, po.amount, po.reason, po.updated_ts,
            po.side._value_, po.price,
        )  # fmt: skip


def _reducible(po: PaperOrder, m: PaperMarket) -> Decimal:
    """What of its strategy's position on `m` the reduce-only `po` may still close."""
    own = own_position(m, po.strategy_id)
    return max(-own if po.is_buy else own, ZERO)
