"""An unwind cut short by the kill switch (trading HALTED between or before its hops): the held
record and its critical `arb.held` event say what is held, on which asset and market, how much
(what the venue holds), and why: the halt, not an unwind that found no price within its bound."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from test_ccxt_support import VENUE, build_stack
from test_triangular_exec_sandbox import _cycle_exchange, _opportunity, _quote
from test_triangular_exec_support import CYCLE, Stack, small_universe
from test_triangular_exec_unwind import CYCLE_4, NO_DIRECT, SIZE, fail_leg_3
from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.model.order import ARB_UNWIND_TAG
from tradeguard.sandbox.testing import ALICE_KEY
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.triangular.executor import (
    ARB_HELD,
    TriangularExecConfig,
    TriangularExecutor,
)

HALT = "trading is HALTED (operator pressed stop, by alice)"


def _halt_at_unwind(gateway: Any, risk: Any, hop: int) -> None:
    """Engage the kill switch just before unwind hop `hop` (1-based) reaches the order path."""
    real, sent = gateway.submit, [0]

    async def submit(intent: Any) -> Any:
        if intent.tag == ARB_UNWIND_TAG:
            sent[0] += 1
            if sent[0] == hop:
                risk.halt("operator pressed stop", "alice")
        return await real(intent)

    gateway.submit = submit


async def test_a_halt_between_unwind_hops_holds_what_the_first_hop_bought(tmp_path: Path) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT))
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)  # A0023 stranded: back over A0023/FDUSD, then FDUSD/USDT
    _halt_at_unwind(s.gateway, s.risk, 2)

    rec = await s.executor.execute(opp, SIZE)

    assert rec.outcome == "held", rec.reason
    first, second = rec.unwinds
    assert (first.symbol, first.status) == ("A0023/FDUSD", "filled")
    assert (second.symbol, second.status, second.filled) == ("FDUSD/USDT", "denied", 0)
    # the A0023 is gone (traded to FDUSD): the FDUSD in hand is what is held, all of it
    assert rec.held == {"FDUSD": first.received}
    assert await s.venue_balance("FDUSD") == first.received
    assert await s.venue_balance("A0023") == 0
    assert HALT in rec.held_why["FDUSD"] and rec.held_on == {"FDUSD": "FDUSD/USDT"}
    [alert] = [e for e in s.events if e.kind == ARB_HELD]
    assert alert.severity == "critical" and alert.symbol == "FDUSD/USDT"
    assert alert.data["held"] == {"FDUSD": str(first.received)}
    message = alert.data["message"]
    assert f"stopped with {first.received} FDUSD held (unwind 2 (FDUSD/USDT) denied" in message
    assert HALT in message and "max_unwind_loss_pct" not in message, message
    [row] = load_arb_executions(s.storage)
    assert row["legs"]["held"] == {"FDUSD": str(first.received)}
    assert HALT in row["legs"]["held_why"]["FDUSD"]
    assert row["legs"]["held_on"] == {"FDUSD": "FDUSD/USDT"}


async def test_a_halt_before_the_unwind_holds_the_stranded_asset_on_the_sandbox(
    tmp_path: Path,
) -> None:
    ex, markets, books = _cycle_exchange()
    async with ex:
        stack = await build_stack(ex, tmp_path, risk={"arb_max_cycle_notional_usd": Decimal(5_000)})
        try:
            opp = _opportunity(stack, markets, books)
            bids, asks = books[CYCLE[2]]  # leg 3's bids 3% lower: not sent, A0009 stranded
            _quote(stack, CYCLE[2], [(p * Decimal("0.97"), q) for p, q in bids], asks)
            config = TriangularExecConfig(
                fees_charged_in="received", start_assets=("USDT",), max_unwind_loss_pct=5
            )
            gateway = OrderPathGateway(stack.om, stack.risk, VENUE, config.strategy_id)
            events: list[Any] = []
            gateway.publish = events.append  # type: ignore[method-assign]
            _halt_at_unwind(gateway, stack.risk, 1)

            rec = await TriangularExecutor(gateway, config).execute(opp, Decimal(500))

            assert rec.outcome == "held", rec.reason
            [hop] = rec.unwinds
            assert hop.status == "denied" and hop.from_asset == "A0009"
            stranded = rec.legs[1].received
            assert rec.held == {"A0009": stranded}
            assert ex.balances(ALICE_KEY)["A0009"][0] == stranded  # free on the venue
            assert HALT in rec.held_why["A0009"] and rec.held_on == {"A0009": hop.symbol}
            [alert] = [e for e in events if e.kind == ARB_HELD]
            assert alert.symbol == hop.symbol and HALT in alert.data["message"]
            assert "did not fill" not in alert.data["message"], alert.data["message"]
        finally:
            await stack.close()
