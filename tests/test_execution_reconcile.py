"""Start-up and periodic reconciliation against a stub venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from execution_stubs import SYMBOL, limit_buy, make_rig
from tradeguard.execution.reconcile import CHECKPOINT_KEY, REPORT_KEY, reconcile_all
from tradeguard.model.enums import OrderStatus
from tradeguard.model.order import Order
from tradeguard.model.position import Position

D = Decimal


async def test_fills_made_while_the_node_was_down_are_booked_once_after_restart(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    await reconcile_all(rig)
    placed = await rig.orders.submit(limit_buy(amount="0.002"))
    assert placed.order is not None
    cid = placed.order.client_order_id
    # the node dies; meanwhile the order fills in two trades it never hears about
    rig.venue.execute(cid, D("0.001"), D("49000"), push=False)
    rig.venue.execute(cid, D("0.001"), D("48990"), push=False)

    restarted = rig.restart()
    report = await reconcile_all(restarted)
    again = await reconcile_all(restarted)

    assert report.ok, report.reason
    assert report.fills_recovered == 2 and again.fills_recovered == 0
    assert sorted(f.trade_id for f in rig.storage.load_fills()) == ["t1", "t2"]
    assert restarted.orders.orders[cid].status is OrderStatus.FILLED
    assert cid in report.orders_updated


async def test_fills_of_finished_orders_since_the_checkpoint_are_caught_up(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    placed = await rig.orders.submit(limit_buy(amount="0.002"))
    assert placed.order is not None
    cid = placed.order.client_order_id
    rig.venue.execute(cid, D("0.001"), D("49000"))  # heard
    rig.orders.on_order_report(rig.venue.report(cid))
    await reconcile_all(rig)
    checkpoint = rig.storage.kv_get(CHECKPOINT_KEY)
    rig.venue.execute(cid, D("0.001"), D("49000"), push=False)  # missed, order now finished
    rig.orders.open.pop(cid)  # as if a stale stream report had closed it

    report = await reconcile_all(rig)

    assert isinstance(checkpoint, dict) and "stub" in checkpoint
    assert report.fills_recovered == 1
    assert len(rig.storage.load_fills(client_order_id=cid)) == 2


async def test_order_journaled_but_never_sent_is_closed_as_unknown_to_the_venue(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    # a crash between the journal commit and the venue call
    order = Order.from_intent(limit_buy(), "tgcrash-1", rig.clock.now_ms())
    order.transition(OrderStatus.SUBMITTED, rig.clock.now_ms())
    with rig.storage.transaction():
        rig.storage.upsert_order(order)

    restarted = rig.restart()
    report = await reconcile_all(restarted)

    assert report.ok
    assert report.orders_missing == ["tgcrash-1"]
    assert restarted.storage.get_order("tgcrash-1").status is OrderStatus.REJECTED  # type: ignore[union-attr]


async def test_open_orders_are_matched_in_one_listing_not_one_query_each(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    for _ in range(50):
        await rig.orders.submit(limit_buy())
    queries = rig.venue.queries

    report = await reconcile_all(rig.restart())

    assert report.ok and report.orders_checked == 50
    assert rig.venue.queries == queries  # no per-order query
    assert rig.venue.open_order_calls == 1


async def test_external_order_is_adopted_and_journaled(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.venue.place_external("manual-1", "sell", D("0.01"), D("51000"))

    report = await reconcile_all(rig)

    assert report.external_orders == ["manual-1"]
    stored = rig.storage.get_order("manual-1")
    # a spot market: its fills move balances only (a sale by hand is no short)
    assert stored is not None and stored.strategy_id == "holdings"
    assert stored.status is OrderStatus.ACCEPTED
    assert "manual-1" in rig.orders.open


async def test_external_order_is_cancelled_when_configured(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, external_orders="cancel")
    rig.venue.place_external("manual-1", "sell", D("0.01"), D("51000"))

    report = await reconcile_all(rig)

    assert report.external_orders == ["manual-1"] and report.external_action == "cancel"
    assert rig.venue.orders["manual-1"].status is OrderStatus.CANCELLED
    assert rig.storage.get_order("manual-1") is None


async def test_balances_take_the_venue_figures_and_record_each_difference(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    opened = await reconcile_all(rig)  # the first reconciliation opens the ledger: no adjustment
    assert opened.balance_adjustments == [] and rig.storage.load_balance_adjustments() == []
    rig.portfolio.book("stub").set("USDT", D("9000"))
    rig.portfolio.book("stub").set("ETH", D("2"))
    rig.portfolio.book("stub").set("BTC", D("0"))
    rig.venue.balances = {"USDT": D("10000"), "BTC": D("1")}

    report = await reconcile_all(rig, "periodic")

    stored = {b.asset: b.total for b in rig.storage.load_balances("stub")}
    assert stored == {"USDT": D("10000"), "BTC": D("1"), "ETH": D("0")}
    diffs = {a["asset"]: a["difference"] for a in report.balance_adjustments}
    assert diffs == {"USDT": "1000", "BTC": "1", "ETH": "-2"}
    assert len(rig.storage.load_balance_adjustments("stub")) == 3
    assert (await reconcile_all(rig, "periodic")).balance_adjustments == []


async def test_long_position_larger_than_the_venue_holding_is_reported(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.venue.balances = {"USDT": D("10000"), "BTC": D("0.5")}
    pos = Position("stub", SYMBOL, "s1")
    pos.apply(limit_buy().side, D("50000"), D("0.8"), D(0), 1)
    rig.portfolio.positions[("stub", SYMBOL, "s1")] = pos

    report = await reconcile_all(rig)

    assert report.position_mismatches == [
        {"venue": "stub", "asset": "BTC", "positions": "0.8", "venue_total": "0.5"}
    ]


async def test_venue_that_cannot_list_open_orders_fails_with_the_exact_reason(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.venue.fail_open_orders = 99

    report = await reconcile_all(rig)

    assert not report.ok
    assert report.reason.startswith("venue stub: fetch_open_orders failed (")
    assert "503 Service Unavailable" in report.reason
    assert "after 4 attempt(s) (reconcile.call_attempts)" in report.reason
    assert "will not trade" in report.reason
    stored = rig.storage.kv_get(REPORT_KEY)
    assert isinstance(stored, dict) and stored["ok"] is False and stored["reason"] == report.reason
    assert rig.storage.kv_get(CHECKPOINT_KEY) is None


async def test_transient_listing_failures_are_retried_within_one_reconciliation(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.venue.fail_open_orders = 2

    report = await reconcile_all(rig)

    assert report.ok, report.reason
    assert rig.venue.open_order_calls == 3


async def test_balances_wait_while_an_order_has_fills_the_journal_could_not_book(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    await reconcile_all(rig)
    adjustments = len(rig.storage.load_balance_adjustments("stub"))
    placed = await rig.orders.submit(limit_buy(amount="0.002"))
    assert placed.order is not None
    cid = placed.order.client_order_id
    # Filled on the venue, but its trade is missing from the trade history for now.
    hidden = rig.venue.execute(cid, D("0.002"), D("49000"), push=False)
    rig.venue.fills.remove(hidden)
    ledger_btc = rig.portfolio.book("stub").total("BTC")

    waiting = await reconcile_all(rig)

    assert rig.orders.orders[cid].status is OrderStatus.ACCEPTED  # never guessed filled
    assert [d["venue"] for d in waiting.balances_deferred] == ["stub"]
    assert cid in waiting.balances_deferred[0]["reason"]
    assert waiting.balance_adjustments == []
    assert len(rig.storage.load_balance_adjustments("stub")) == adjustments
    assert rig.portfolio.book("stub").total("BTC") == ledger_btc

    rig.venue.fills.append(hidden)  # the venue's history catches up
    settled = await reconcile_all(rig)

    assert settled.balances_deferred == [] and settled.balance_adjustments == []
    assert rig.orders.orders[cid].status is OrderStatus.FILLED
    assert [f.trade_id for f in rig.storage.load_fills(client_order_id=cid)] == [hidden.trade_id]
    assert rig.portfolio.book("stub").total("BTC") == ledger_btc + D("0.002")
