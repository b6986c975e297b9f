"""The DEX transaction journal in the node's database: durable, and without the wallet key."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from dex_support import ChainThread, connected_venue, running_chain
from tradeguard.execution.dex_journal import StoredTxJournal
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.order import Order
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


@pytest.fixture(scope="module")
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


async def test_swaps_journaled_in_the_database_resolve_after_reopening_and_hold_no_key(
    chain: ChainThread, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    db = Database(url)
    db.migrate()
    venue = await connected_venue(chain.deployment, StoredTxJournal(Storage(db)))
    order = Order(
        client_order_id="db-1", strategy_id="t", venue="dex", symbol="WETH/USD",
        side=Side.SELL, type=OrderType.MARKET, amount=Decimal("0.1"),
        status=OrderStatus.SUBMITTED,
    )  # fmt: skip
    assert (await venue.submit(order)).status is OrderStatus.FILLED
    await venue.close()
    db.dispose()

    reopened = Database(url)
    journal = StoredTxJournal(Storage(reopened))
    kinds = sorted(r.kind for r in journal.for_order("dex", "db-1"))
    assert kinds == ["swap"]
    assert journal.for_order("dex", "db-1")[0].status == "mined"
    assert journal.max_nonce("dex", chain.deployment.wallet_address) is not None
    reopened.dispose()
    raw = (tmp_path / "tg.db").read_bytes()
    key = chain.deployment.wallet_private_key[2:]
    assert key.encode() not in raw and key.upper().encode() not in raw
