"""A buyer's fee taken in the base asset (as Binance and the sandbox do): positions hold what
the account holds, and round trips close, through the real ccxt client and order path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from execution_stubs import Rig, _Config
from test_ccxt_support import ALICE_KEY, SYMBOL, VENUE, Stack, build_stack
from tradeguard.execution.ledger_audit import audit_storage, record_lot_steps
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model import OrderStatus, Side
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import eventually


def _held(ex: SandboxExchange) -> dict[str, Decimal]:
    return {a: free + locked for a, (free, locked) in ex.balances(ALICE_KEY).items()}


async def _fill(stack: Stack, side: Side, amount: Decimal) -> None:
    result = await stack.submit(side, str(amount))
    assert result.ok, result
    order = result.order
    await eventually(lambda: order.status is OrderStatus.FILLED)


async def test_selling_what_a_buy_left_in_the_account_closes_one_trade(
    ex: SandboxExchange, stack: Stack
) -> None:
    start = _held(ex)
    await _fill(stack, Side.BUY, Decimal("0.01"))
    bought = _held(ex)
    gained = bought["BTC"] - start["BTC"]
    assert gained == Decimal("0.00999")  # 0.01 less the 0.1% fee the venue kept in BTC
    pos = stack.portfolio.position(VENUE, SYMBOL, "t")
    assert pos.quantity == gained

    await _fill(stack, Side.SELL, gained)
    end = _held(ex)
    assert end["BTC"] == start["BTC"]
    assert pos.quantity == 0
    assert len(stack.portfolio.closed_trades) == 1
    trade = stack.portfolio.closed_trades[0]
    spent = start["USDT"] - bought["USDT"]
    received = end["USDT"] - bought["USDT"]
    assert trade.pnl == received - spent
    assert stack.portfolio.realized_pnl == received - spent
    stack.om.flush()
    assert not stack.storage.load_open_positions()
    # The position check of the ledger audit agrees: no open position, none from the fills.
    audit = audit_storage(stack.storage, {VENUE: start}, rounded={VENUE})
    assert audit.positions == []


async def test_a_remainder_below_the_lot_step_flattens_the_position(
    ex: SandboxExchange, stack: Stack
) -> None:
    step = stack.venue.instruments[SYMBOL].amount_step
    stack.portfolio.lot_steps[(VENUE, SYMBOL)] = step
    start = _held(ex)
    await _fill(stack, Side.BUY, Decimal("0.0004"))
    pos = stack.portfolio.position(VENUE, SYMBOL, "t")
    assert pos.quantity == Decimal("0.0003996") == _held(ex)["BTC"] - start["BTC"]
    sellable = stack.portfolio.sellable(pos)
    assert sellable == Decimal("0.00039")  # no order can sell the last 0.0000096

    await _fill(stack, Side.SELL, sellable)
    assert pos.quantity == 0
    assert [t.amount for t in stack.portfolio.closed_trades] == [Decimal("0.0003996")]
    assert _held(ex)["BTC"] - start["BTC"] == Decimal("0.0000096")  # dust stays in the account
    stack.om.flush()
    assert not stack.storage.load_open_positions()
    # Without the lot step the audit counts the remainder as a position the store lacks.
    blind = audit_storage(stack.storage, {VENUE: start}, rounded={VENUE})
    assert [(p.stored, p.fills) for p in blind.positions] == [(0, Decimal("0.0000096"))]
    steps = {(VENUE, SYMBOL): step}
    audit = audit_storage(stack.storage, {VENUE: start}, rounded={VENUE}, lot_steps=steps)
    assert audit.positions == []
    # The node keeps the steps with the ledger; an offline audit (doctor) reads them back.
    record_lot_steps(stack.storage, steps)
    assert audit_storage(stack.storage, {VENUE: start}, rounded={VENUE}).positions == []


async def test_reconciliation_finds_the_position_within_what_the_account_holds(
    ex: SandboxExchange, tmp_path: Path
) -> None:
    # An account with no BTC of its own: the position is all it holds.
    ex.add_account("dora-key-0001", "dora-secret-0001", {"USDT": Decimal(10000)})
    stack = await build_stack(ex, tmp_path, key="dora-key-0001", secret="dora-secret-0001")
    try:
        await _fill(stack, Side.BUY, Decimal("0.01"))
        host = Rig(
            stack.storage, {VENUE: stack.venue}, stack.om, stack.portfolio, stack.market,
            stack.risk, stack.bus, stack.clock, _Config(), [], [], stack.db,  # type: ignore[arg-type]
        )  # fmt: skip
        report = await reconcile_all(host, "periodic")
        assert report.ok, report.reason
        assert report.position_mismatches == []  # no "held 0.01 but the venue has 0.00999"
        held = {a: f + lk for a, (f, lk) in ex.balances("dora-key-0001").items()}
        assert stack.portfolio.position(VENUE, SYMBOL, "t").quantity == held["BTC"]
    finally:
        await stack.close()
