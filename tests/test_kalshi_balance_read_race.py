"""A resting Kalshi sell filled between reconciliation's fills catch-up and its balance read,
its fill not streamed yet (the local Kalshi keeps the `fill` message back): the positions hold
the fill, the ledger not; read as they were, the position was split among the sell's locks
wrongly and an adjustment booked. Reconciliation now catches the fills up again after the read
and reads once more."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kalshi_node_support import TICKER, resting_sell, started_kalshi_node
from tradeguard.execution.reconcile import reconcile_and_gate
from tradeguard.model.enums import OrderStatus
from tradeguard.model.outcome import Outcome

D = Decimal


async def test_a_sell_filled_between_the_catch_up_and_the_balance_read_books_no_adjustment(
    tmp_path: Path, monkeypatch
):
    async with started_kalshi_node(tmp_path, monkeypatch) as (server, node, keys):
        venue = node.venues["kalshi"]
        sell, price = await resting_sell(node)
        await venue.balance_reader.idle()  # no read after the buy's fill still to come
        # the fault: the sell fills on the venue as reconciliation's balance read reaches it,
        # its `fill` message streamed only after the reconciliation
        server.held_fills = []
        server.before_balance.append(lambda: server.house_takes(TICKER, Outcome.YES, price, D(10)))
        report = await reconcile_and_gate(node)
        assert len(server.held_fills) == 1
        server.release_fills()
        assert server.before_balance == []  # the hook ran
        acct = server.account_of(keys["key_id"])
        assert acct.tokens.get((TICKER, Outcome.YES), 0) == 0
        assert report.ok and report.balance_adjustments == [], report.to_json()
        assert report.fills_recovered == 1 and report.balances_deferred == []
        assert sell.status is OrderStatus.FILLED
        book = node.portfolio.book("kalshi")
        assert book.total(f"{TICKER}:YES") == 0 and book.total("USD") == acct.cash
        again = await reconcile_and_gate(node)
        assert again.ok and again.balance_adjustments == [] and again.fills_recovered == 0
