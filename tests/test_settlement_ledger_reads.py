"""A reconciliation's settlements read the venue's durable ledger at most once: Kalshi lists
every settled market of the account at every reconciliation, and the ledger is every fill (one
read of 20,000 fills takes about 0.3 s of the event loop)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from execution_stubs import make_rig
from tradeguard.execution.settlement import settle_resolved
from tradeguard.model.outcome import Resolution, Settlement


class _Settled:
    name = "kalshi"

    def __init__(self, n: int) -> None:
        self.rows = [
            Settlement("kalshi", f"KXOLD-{i}", Resolution.NO, Decimal(0), Decimal(0), Decimal(0),
                       "USD", 1_000 + i)
            for i in range(n)
        ]  # fmt: skip

    async def fetch_settlements(self) -> list[Settlement]:
        return self.rows


async def test_settlements_listed_again_read_the_ledger_once_per_reconciliation(tmp_path):
    rig = make_rig(tmp_path)
    rig.orders.balance_only.add("pmarb")  # one cross-venue strategy: it owns every settled market
    reads = []
    load_fills = rig.storage.load_fills

    def counting(*args, **kwargs):
        reads.append(kwargs.get("venue"))
        return load_fills(*args, **kwargs)

    rig.storage.load_fills = counting  # type: ignore[method-assign]
    node = SimpleNamespace(venues={"kalshi": _Settled(40)}, orders=rig.orders, clock=rig.clock)
    assert await settle_resolved(node) == []  # nothing held, nothing to book
    assert len(reads) <= 1, f"{len(reads)} full reads of the venue's fills in one pass"
