"""A paper node's venue and the mark guard: a held print fills nothing and denies orders.

The node replays real BTC candles (its paper venue follows no venue's data: it takes whichever
arrives), then quotes come in tagged with a venue, as a live feed's are. A resting stop must not
fire on a print the guard holds; it fires on the update that confirms the move, at that update's
price. Orders on the paper venue are denied MARK_SUSPECT while any venue's mark of the symbol is
held, since any venue's data fills them.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from test_api_support import replayed_node
from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.live.closing import TradeBar
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.feed import NodeFeed

D = Decimal
SYMBOL = "BTC/USDT"


async def _quote(node: TradingNode, mid: Decimal) -> None:
    node.clock.advance_to(node.clock.now_ms() + 1_000)  # type: ignore[attr-defined]
    half = (mid * D("0.0001")).quantize(D("0.01"))
    q = Quote(SYMBOL, node.clock.now_ms(), mid - half, D(5), mid + half, D(5), venue="binance")
    await node.on_quote(q)


def _intent(kind: OrderType, trigger: Decimal | None = None) -> OrderIntent:
    return OrderIntent(
        strategy_id="http", venue="paper", symbol=SYMBOL, side=Side.BUY if trigger is None
        else Side.SELL, amount=D("0.001"), type=kind, trigger_price=trigger,
        reduce_only=trigger is not None,
    )  # fmt: skip


def _limit(price: Decimal) -> OrderIntent:
    """A paper buy limit of 0.001 BTC at `price`, to the cent."""
    return OrderIntent(
        strategy_id="http", venue="paper", symbol=SYMBOL, side=Side.BUY, amount=D("0.001"),
        type=OrderType.LIMIT, price=price.quantize(D("0.01")),
    )  # fmt: skip


def _mid(node: TradingNode) -> Decimal:
    """The node's mid of the symbol, which the replay has set."""
    mid = node.market.mid(SYMBOL)
    assert mid is not None
    return mid


async def _quoted_node(tmp_path, data_dir) -> tuple[TradingNode, Decimal]:  # type: ignore[no-untyped-def]
    """A replayed node quoted by binance at its last mid, to the cent; closed if that fails."""
    node = await replayed_node(tmp_path, data_dir)
    try:
        start = _mid(node).quantize(D("0.01"))
        await _quote(node, start)
    except BaseException:
        node.close()
        raise
    return node, start


async def _book_at(node: TradingNode, book: OrderBook, px: Decimal, size: Decimal) -> None:
    """Set `book` to one level a cent either side of `px` and feed it to the node."""
    book.apply_snapshot([(px - D("0.01"), size)], [(px + D("0.01"), size)], node.clock.now_ms())
    await NodeFeed(node).on_book(book)


def _minute(
    ts: int, price: Decimal, low: Decimal | None = None, close: Decimal | None = None
) -> Candle:
    """Binance's 1m bar opened at `ts`, all at `price` but for the `low` or `close` given."""
    lo, end = price if low is None else low, price if close is None else close
    return Candle(SYMBOL, ts, price, price, lo, end, D(3), 60, "binance")


def _next_minute(node: TradingNode) -> int:
    """The open of the bar after now, with the clock moved to that bar's close."""
    ts = (node.clock.now_ms() // 60_000 + 1) * 60_000
    node.clock.advance_to(ts + 60_000)  # type: ignore[attr-defined]
    return ts


async def _node_with_a_stop(tmp_path, data_dir) -> tuple[TradingNode, str, Decimal]:  # type: ignore[no-untyped-def]
    node, start = await _quoted_node(tmp_path, data_dir)
    bought = await node.submit(_intent(OrderType.MARKET))
    assert bought.ok and len(node.storage.load_fills(venue="paper")) == 1, bought.reason
    trigger = (start * D("0.98")).quantize(D("0.01"))
    placed = await node.submit(_intent(OrderType.STOP_LOSS, trigger))  # the long's stop
    assert placed.ok, (placed.code, placed.reason)
    assert placed.order is not None
    return node, placed.order.client_order_id, start


async def test_a_held_print_does_not_fire_a_resting_paper_stop(tmp_path, data_dir) -> None:
    node, cid, start = await _node_with_a_stop(tmp_path, data_dir)
    try:
        await _quote(node, start / 1000)  # one print 1000 times off: held
        assert node.risk.mark_guard.held("binance", SYMBOL) is not None
        assert node.orders.orders[cid].status.is_open, "fired on a held print"
        await _quote(node, start)  # back: the print is dropped
        assert node.orders.orders[cid].status.is_open
        assert len(node.storage.load_fills(venue="paper")) == 1, "the entry's only"
    finally:
        node.close()


async def test_a_confirmed_jump_fires_the_stop_at_the_confirming_price(tmp_path, data_dir) -> None:
    node, cid, start = await _node_with_a_stop(tmp_path, data_dir)
    try:
        first = (start * D("0.6")).quantize(D("0.01"))
        await _quote(node, first)  # 40 % down: held, nothing fires
        assert node.orders.orders[cid].status.is_open
        second = first - 10
        await _quote(node, second)  # a second, distinct update near it: confirmed
        assert node.orders.orders[cid].status is OrderStatus.FILLED
        _, fill = node.storage.load_fills(venue="paper")
        half = (second * D("0.0001")).quantize(D("0.01"))
        assert fill.price == second - half, "filled at the confirming quote's bid"
    finally:
        node.close()


async def test_orders_on_a_paper_venue_without_data_venue_wait_for_a_held_mark(
    tmp_path, data_dir
) -> None:
    node = await replayed_node(tmp_path, data_dir)
    try:
        start = _mid(node)
        await _quote(node, start)
        await _quote(node, start / 1000)  # binance's mark held
        denied = await node.submit(_intent(OrderType.MARKET))
        assert (denied.status, denied.code) == ("denied", "MARK_SUSPECT"), denied.reason
        assert f"{SYMBOL} on paper" in denied.reason
        await _quote(node, start)  # dropped: orders go again
        assert node.risk.mark_guard.held("paper", SYMBOL) is None
    finally:
        node.close()


async def test_a_public_trade_beyond_the_limit_waits_like_a_held_mark(tmp_path, data_dir) -> None:
    node, cid, start = await _node_with_a_stop(tmp_path, data_dir)
    try:
        feed = NodeFeed(node)
        low = (start / 1000).quantize(D("0.01"))
        await feed.on_trade(
            TradeTick(SYMBOL, node.clock.now_ms(), "x1", low, D(1), "sell", "binance")
        )
        assert node.orders.orders[cid].status.is_open, "fired on a print 1000 times off"
        near = (start * D("0.97")).quantize(D("0.01"))  # through the stop, within the limit
        await feed.on_trade(
            TradeTick(SYMBOL, node.clock.now_ms(), "x2", near, D(1), "sell", "binance")
        )
        assert not node.orders.orders[cid].status.is_open
    finally:
        node.close()


class _Minutes:
    """Takes the 1m candles of BTC/USDT from every venue's data and does nothing with them."""

    id, timeframe, muted = "minutes", "1m", False
    wants_trades = book_depth = False

    def on_candle(self, candle: Candle) -> None:
        return None

    def on_ticker(self, quote: Quote) -> None:
        return None


def _take_minutes(node: TradingNode) -> None:
    """Give the node a strategy on 1m candles: the finest bars streamed fill paper orders."""
    minutes = _Minutes()
    node._by_symbol.setdefault(SYMBOL, []).append(minutes)  # type: ignore[arg-type]
    node._by_source.setdefault(("", SYMBOL), set()).add(id(minutes))


async def test_a_candle_far_off_a_quoted_mark_does_not_fire_a_paper_stop(
    tmp_path, data_dir
) -> None:
    # quotes mark the symbol; a closed 1m candle 1000 times off (a bad bar) must wait as a
    # book or trade that far off does, not fire the resting stop
    node, cid, start = await _node_with_a_stop(tmp_path, data_dir)
    try:
        _take_minutes(node)
        bad = (start / 1000).quantize(D("0.01"))
        ts = _next_minute(node)  # a bar opened after the stop
        feed = NodeFeed(node)
        await feed.on_live_candle(_minute(ts, bad), False)
        node.clock.advance_to(ts + 120_000)  # type: ignore[attr-defined]
        # the next bar, where the market was all along
        await feed.on_live_candle(_minute(ts + 60_000, start), False)
        assert node.orders.orders[cid].status.is_open, "fired on a candle 1000 times off"
        assert len(node.storage.load_fills(venue="paper")) == 1, "the entry's only"
    finally:
        node.close()


async def test_a_withheld_trade_does_not_reach_a_paper_stop_through_its_candle(
    tmp_path, data_dir
) -> None:
    # a venue without a kline stream: the 1m candle is built from the public trades, so the
    # trade 1000 times off that waited as a trade is the candle's low
    node, cid, start = await _node_with_a_stop(tmp_path, data_dir)
    try:
        _take_minutes(node)
        feed, bar = NodeFeed(node), TradeBar(60)
        ts = _next_minute(node)  # a bar opened after the stop
        s, bad = start, (start / 1000).quantize(D("0.01"))
        for i, price in enumerate((s, bad, s)):
            trade = TradeTick(SYMBOL, ts + i * 1_000, f"t{i}", price, D(1), "sell", "binance")
            await feed.on_trade(trade)
            candle = bar.update(trade)
        assert node.orders.orders[cid].status.is_open, "fired on the trade"
        await feed.on_live_candle(replace(candle, venue="binance"), False)
        node.clock.advance_to(ts + 120_000)  # type: ignore[attr-defined]
        await feed.on_live_candle(_minute(ts + 60_000, s), False)
        assert node.orders.orders[cid].status.is_open, "fired on the trade's candle"
        assert len(node.storage.load_fills(venue="paper")) == 1, "the entry's only"
        low = (start * D("0.97")).quantize(D("0.01"))  # through the stop, within the limit
        for i in (2, 3):
            node.clock.advance_to(ts + (i + 1) * 60_000)  # type: ignore[attr-defined]
            await feed.on_live_candle(_minute(ts + i * 60_000, s, low=low), False)
        assert node.orders.orders[cid].status is OrderStatus.FILLED, "a real bar fires it"
    finally:
        node.close()


async def test_a_one_sided_book_far_off_does_not_fill_a_resting_paper_limit(
    tmp_path, data_dir
) -> None:
    # a book of asks only (no mid to measure): its best ask 1000 times under the market waits
    # as a book that far off does; it must not fill a buy limit resting under the market
    node, start = await _quoted_node(tmp_path, data_dir)
    try:
        placed = await node.submit(_limit(start * D("0.98")))
        assert placed.ok and placed.order is not None, (placed.code, placed.reason)
        cid = placed.order.client_order_id
        book = OrderBook(SYMBOL, "binance")
        book.apply_snapshot([], [((start / 1000).quantize(D("0.01")), D(1))], node.clock.now_ms())
        await NodeFeed(node).on_book(book)
        assert node.orders.orders[cid].status.is_open, "filled on an ask 1000 times off"
        assert node.storage.load_fills(venue="paper") == []
        near = (start * D("0.97")).quantize(D("0.01"))  # under the limit, within the guard's
        book.apply_snapshot([], [(near, D(1))], node.clock.now_ms())
        await NodeFeed(node).on_book(book)
        assert node.orders.orders[cid].status is OrderStatus.FILLED
    finally:
        node.close()


async def test_an_order_is_measured_against_the_minimum_at_the_guarded_mark(
    tmp_path, data_dir
) -> None:
    # a book as far off as a held print (no quote: nothing to hold) moves the raw mid; the
    # minimum notional values a market order at the last accepted mark, not at that mid
    node, start = await _quoted_node(tmp_path, data_dir)
    try:
        book = OrderBook(SYMBOL, "binance")
        for far, amount, ok in ((D("0.001"), D("0.001"), True), (D(1000), D("0.00001"), False)):
            px = (start * far).quantize(D("0.01"))
            await _book_at(node, book, px, D(1))
            assert node.market.mid(SYMBOL, "paper") == px, "the book moved the raw mid"
            intent = replace(_intent(OrderType.MARKET), amount=amount)
            got = await node.submit(intent)
            # 0.001 BTC is some 40 USDT at the mark (min 5); 0.00001 BTC some 0.4 USDT
            assert got.ok is ok and (got.code == "MIN_NOTIONAL") is not ok, (far, got.reason)
            if not ok:  # valued at the mark
                assert D(got.reason.split("notional ")[1].split()[0]) == amount * start
    finally:
        node.close()


async def test_a_limit_at_the_market_is_not_refused_on_a_book_as_far_off_as_a_held_print(
    tmp_path, data_dir
) -> None:
    node, start = await _quoted_node(tmp_path, data_dir)
    try:
        px = (start / 1000).quantize(D("0.01"))
        await _book_at(node, OrderBook(SYMBOL, "binance"), px, D(1))
        limit = _limit(start * D("0.99"))
        placed = await node.submit(limit)
        assert placed.ok, (placed.code, placed.reason)  # 1 % under the mark, in the band
        far = replace(limit, price=(start / 100).quantize(D("0.01")))
        refused = await node.submit(far)  # near the bad book, 99 % under the mark
        assert refused.code == "PRICE_BAND", (refused.code, refused.reason)
    finally:
        node.close()


async def test_a_bad_close_is_not_confirmed_by_a_longer_bar_closing_on_the_same_trade(
    tmp_path, data_dir
) -> None:
    # strategies on 1m and 1h bars: the last minute of an hour and the hour end on the same
    # trade, so a bad close is both bars' close; the hour's bar is the same print, not a
    # later stretch of trading holding there, and must not confirm it
    node = await replayed_node(tmp_path, data_dir)
    try:
        start = _mid(node)
        s, bad = start.quantize(D("0.01")), (start / 1000).quantize(D("0.01"))
        hour = (node.clock.now_ms() // 3_600_000 + 1) * 3_600_000
        feed = NodeFeed(node)
        node.clock.advance_to(hour + 3_540_000)  # type: ignore[attr-defined]
        await feed.on_live_candle(_minute(hour + 3_480_000, s), False)
        assert node.portfolio.marks[SYMBOL] == s
        node.clock.advance_to(hour + 3_600_000)  # type: ignore[attr-defined]
        await feed.on_live_candle(_minute(hour + 3_540_000, s, close=bad), False)
        await feed.on_live_candle(Candle(SYMBOL, hour, s, s, s, bad, D(90), 3_600, "binance"),
                                  False)  # fmt: skip
        assert node.risk.mark_guard.held("binance", SYMBOL) == (bad, s), "the print confirmed"
        assert node.portfolio.marks[SYMBOL] == s, "the equity valued at the bad close"
    finally:
        node.close()


async def test_a_withheld_book_fills_no_new_order_on_the_paper_venue(tmp_path, data_dir) -> None:
    # the live hub keeps one book per market and updates it in place: a paper venue that took
    # the book once holds that object, so an update 1000 times off, withheld from it, must not
    # fill an order sent then at those prices (it waits for data the guard admits)
    node, s = await _quoted_node(tmp_path, data_dir)
    try:
        book = OrderBook(SYMBOL, "binance")
        for px in (s, (s / 1000).quantize(D("0.01"))):
            await _book_at(node, book, px, D(5))
        for intent in (_intent(OrderType.MARKET), _limit(s * D("0.99"))):
            got = await node.submit(intent)
            assert got.ok, (got.code, got.reason)
        prices = [f.price for f in node.storage.load_fills(venue="paper")]
        assert prices and all(p > s * D("0.9") for p in prices), f"at the withheld book: {prices}"
    finally:
        node.close()


async def test_a_kill_flatten_is_bounded_at_the_guarded_mark_not_a_book_far_off(
    tmp_path, data_dir
) -> None:
    # halted, the kill switch's flatten sells the position at market within the slippage cap
    # of the reference price: a book 1000 times above the mark (withheld as a held print is)
    # must not set that cap, or the sell's floor is 1000 times over every bid and never fills
    from tradeguard.risk.engine import KILL_FLATTEN_TAG

    node, s = await _quoted_node(tmp_path, data_dir)
    try:
        bought = await node.submit(_intent(OrderType.MARKET))
        assert bought.ok and len(node.storage.load_fills(venue="paper")) == 1, bought.reason
        await _book_at(node, OrderBook(SYMBOL, "binance"), s * 1000, D(5))
        node.risk.halt("a test", "test")
        flatten = OrderIntent(
            strategy_id="http", venue="paper", symbol=SYMBOL, side=Side.SELL, amount=D("0.001"),
            type=OrderType.MARKET, reduce_only=True, tag=KILL_FLATTEN_TAG,
        )  # fmt: skip
        got = await node.submit(flatten)
        assert got.ok, (got.code, got.reason)
        fills = node.storage.load_fills(venue="paper")
        assert len(fills) == 2, f"the flatten did not fill: {got.order and got.order.status}"
    finally:
        node.close()
