"""A cross-venue node SIGKILLed after its in-run unwind sale filled, before the attempt's record:
the next start books that sale as the run would have (the loss in the record, the risk engine's
cycle and the strategy's P&L of the day), not as an unwind that lost nothing."""

from __future__ import annotations

from decimal import Decimal

from rigs import killed_child
from test_pm_arb_book_crash import CHILD, K_NO, PAIR, _twice, servers  # noqa: F401
from test_pm_arb_node import arb_config
from tradeguard.model.money import ZERO
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets
from tradeguard.storage.arb_repository import load_arb_executions


def _cash(order) -> Decimal:
    gross = order.filled * order.avg_price
    return -(gross + order.fee) if order.side.value == "buy" else gross - order.fee


async def test_an_unwind_sale_filled_before_the_record_keeps_its_loss(tmp_path, servers):  # noqa: F811
    kalshi, pm = servers
    cfg = arb_config(tmp_path, kalshi, pm, {"max_unwind_loss_usd": "500"},
                     {"max_position_usd": "200"})  # fmt: skip
    arb = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1],
                      ArbScenarioConfig(size=Decimal(2000), fail_second=True))  # fmt: skip
    arb.appear(arb.markets[0])
    [died] = await killed_child(CHILD, tmp_path, cfg, "unwind_filled", timeout_s=150)
    assert died.get("step") == "unwind_filled", died

    def check(node) -> None:
        orders = {o.client_order_id: o for o in node.storage.load_orders(strategy_id="pmarb")}
        unwind = orders[died["cid"]]
        [first] = [o for o in orders.values() if o.signal.get("arb") == "first"]
        assert first.symbol == K_NO + "/USD" and unwind.filled == Decimal(died["filled"])
        sold_cost = -_cash(first) * unwind.filled / first.filled
        loss = _cash(unwind) - sold_cost
        assert loss < 0  # sold below what it cost (fees at least)
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert rec["cycle"]["pair_id"] == PAIR, rec
        assert Decimal(rec["actual_profit"]) == loss, (rec["actual_profit"], loss)
        book = node.strategies[0].book
        assert book.trades_today == 1 and book.realised_today == loss, book.to_json()
        left = first.filled - unwind.filled
        assert [p.contracts for p in book.open] == ([left] if left > ZERO else [])

    await _twice(cfg, check)


async def test_a_start_up_unwind_sale_filled_before_its_record_keeps_its_loss(tmp_path, servers):  # noqa: F811
    # killed after the first leg filled; the next start's unwind sells and is killed before its
    # record; the start after sends nothing more and books the sale with what it lost
    kalshi, pm = servers
    cfg = arb_config(tmp_path, kalshi, pm, {"max_unwind_loss_usd": "500"},
                     {"max_position_usd": "200"})  # fmt: skip
    arb = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1],
                      ArbScenarioConfig(size=Decimal(2000), fail_second=True))  # fmt: skip
    arb.appear(arb.markets[0])
    [cut] = await killed_child(CHILD, tmp_path, cfg, "first_filled", timeout_s=150)
    assert cut.get("step") == "first_filled", cut
    [died] = await killed_child(CHILD, tmp_path, cfg, "unwind_filled", timeout_s=150)
    assert died.get("step") == "unwind_filled", died

    def check(node) -> None:
        orders = {o.client_order_id: o for o in node.storage.load_orders(strategy_id="pmarb")}
        assert len(orders) == 2, orders  # the leg and the start-up sale: nothing more
        first, unwind = orders[cut["cid"]], orders[died["cid"]]
        loss = _cash(unwind) + _cash(first) * unwind.filled / first.filled
        [rec] = load_arb_executions(node.storage, strategy_id="pmarb")
        assert "stopped again while unwinding" in rec["legs"]["reason"], rec
        assert Decimal(rec["actual_profit"]) == loss, (rec["actual_profit"], loss)
        book = node.strategies[0].book
        assert book.trades_today == 1 and book.realised_today == loss, book.to_json()
        left = first.filled - unwind.filled
        assert [p.contracts for p in book.open] == ([left] if left > ZERO else [])

    await _twice(cfg, check)
