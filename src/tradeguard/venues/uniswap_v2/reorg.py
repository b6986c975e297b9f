"""Swaps booked from a receipt, watched until final: one a reorg takes out is a failed fill.

The gas of a transaction that swapped nothing (an approval, a reverted swap, a cancel), booked
as a fee-only fill, is watched the same way: a reorg taking it out means that gas was never
spent, and its fill is flagged failed too.

A swap is booked once its block has `confirmations` blocks on it; a reorg deeper than that takes
it out after its fill was booked. Every balance read looks the swaps booked in the last
`WATCH_BLOCKS` blocks up again: one the chain no longer knows (not in a block, not waiting in
the pool) never happened, so its fill is handed to the reconciliation as failed
(`venue.failed_fills`: the strategy's position move is reversed, the balance difference is
explained as such, a critical `fill.failed` event names it), its journal record is dropped
(its nonce is free again) and marked `reorged_out`, and its order ends rejected; its signed
bytes are never broadcast again (the strategy decides whether to trade again, at today's
price). One back in the pool is left to mine again. Swaps booked before a restart are not
watched again.

```python
watch.booked(record, fill, block)          # after the fill is booked
await watch.check(venue, head)             # at each balance read
```
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from tradeguard.model.fill import Fill
from tradeguard.venues.uniswap_v2.txstore import TxRecord

if TYPE_CHECKING:
    from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue

# about two epochs of Ethereum blocks: finality; a reorg deeper than this is not looked for
WATCH_BLOCKS = 64
REORGED = "reorged_out"  # the detail key of a journal record a reorg took out after booking
_log = logging.getLogger(__name__)


class ReorgWatch:
    """The swaps booked from receipts of the last WATCH_BLOCKS blocks, by hash."""

    def __init__(self) -> None:
        self._booked: dict[str, tuple[TxRecord, Fill, int]] = {}

    def booked(self, record: TxRecord, fill: Fill, block: int) -> None:
        self._booked[record.tx_hash] = (record, fill, block)

    async def check(self, venue: UniswapV2Venue, head: int) -> None:
        """Look each watched swap up; flag one the chain no longer knows (an unanswered
        lookup raises: the balance read is then unanswered too, and asked again)."""
        for tx_hash, (record, fill, block) in list(self._booked.items()):
            if head - block + 1 > WATCH_BLOCKS:
                self._booked.pop(tx_hash, None)
                continue
            lookup = await venue.chain.lookup(tx_hash)
            if lookup.state == "mined":  # in a block still (maybe another one, re-mined)
                if tx_hash in self._booked:
                    self._booked[tx_hash] = (record, fill, int(lookup.receipt["blockNumber"]))
                continue
            # back in the pool it may mine again; a read alongside this one flagged it already
            if lookup.state == "pending" or self._booked.pop(tx_hash, None) is None:
                continue
            venue.failed_fills[fill.trade_id] = fill
            detail = {**record.detail, REORGED: block}
            venue.store.save(replace(record, status="dropped", updated_ts=venue.now_ms(),
                                     detail=detail))  # fmt: skip
            _log.warning(
                "%s: swap %s of order %s, booked from block %d, was taken out of the chain by a "
                "reorg: its fill is flagged failed and the order rejected; it is not sent again",
                venue.name, tx_hash, record.client_order_id, block,
            )  # fmt: skip


def reorged_out(records: list[TxRecord]) -> TxRecord | None:
    """The order's record a reorg took out after it was booked, if any."""
    return next((r for r in records if REORGED in r.detail), None)
