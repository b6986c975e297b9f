"""A balance read after a fill races a reconciliation whose own read began before the fill."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from node_support import node_for, paper_config, write_slice
from tradeguard.execution.reconcile import ReconcileReport
from tradeguard.execution.reconcile_balances import apply_balances
from tradeguard.model.balance import Balance
from tradeguard.venues.fill_balances import BalanceReader

D = Decimal


async def test_a_read_after_a_fill_is_not_replaced_by_an_older_reconciliation_read(
    tmp_path, data_dir, sqlite_url
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    node = node_for(paper_config(sqlite_url, data, tmp=tmp_path))
    try:
        venue_usdt = [D(10_000)]  # what the venue holds
        gate = asyncio.Event()

        async def reconciliation_read() -> list[Balance]:
            reader.read_started()  # fetch_balances counts every read
            seen = venue_usdt[0]
            await gate.wait()  # a slow answer
            reader.read_finished()
            return [Balance("paper", "USDT", seen)]

        async def read_after_fill() -> list[Balance]:
            reader.read_started()
            await asyncio.sleep(0)
            reader.read_finished()
            return [Balance("paper", "USDT", venue_usdt[0])]

        reader = BalanceReader("paper", read_after_fill, node.orders.on_balances)
        read_ts = node.clock.now_ms()
        recon = asyncio.create_task(reconciliation_read())
        await asyncio.sleep(0)  # reconciliation's read is on its way, before the fill
        venue_usdt[0] = D(9_000)  # a fill
        reader.after_fill()
        await reader.idle()  # the read after the fill is delivered (queued for the next commit)
        gate.set()
        balances = await recon
        apply_balances(node, "paper", balances, ReconcileReport(trigger="periodic"), read_ts)
        await reader.idle()
        node.orders.flush()
        stored = {b.asset: b.total for b in node.storage.load_balances("paper")}
        # The venue holds 9000: the read after the fill is made once more after reconciliation
        # stored the figures of its read begun before the fill (10000).
        assert stored["USDT"] == D(9_000)
        assert reader.reads == 2
    finally:
        node.close()
