"""Follow journaled transactions to their end: receipts, revert reasons, lost and stuck ones.

After a crash `resolve` looks every journaled hash of an order up: mined (a fill, or a rejection
with the router's reason), pending (still in flight, replaced with a bumped fee once stuck), or
unknown to the node (the same signed bytes are broadcast again while the nonce of the address
that signed them is unused; else the transaction that used it is judged, `replaced.py`: booked
when it made the very swap, else the order is rejected as replaced). A second swap is never
signed for the same order, and a swap a reorg took out after booking is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeguard.model.enums import OrderStatus, Side
from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.uniswap_v2 import abi, crashpoints, replaced
from tradeguard.venues.uniswap_v2.amm import from_units
from tradeguard.venues.uniswap_v2.fills import SwapProof, prove_swap
from tradeguard.venues.uniswap_v2.held import held_error
from tradeguard.venues.uniswap_v2.receipts import checked_lookup
from tradeguard.venues.uniswap_v2.reorg import reorged_out
from tradeguard.venues.uniswap_v2.rpc import NoState, RateLimited, RpcFailure, TxLookup
from tradeguard.venues.uniswap_v2.sender import TxSender, gwei
from tradeguard.venues.uniswap_v2.settings import Token
from tradeguard.venues.uniswap_v2.txstore import OPEN_STATES, TxRecord

if TYPE_CHECKING:
    from tradeguard.venues.uniswap_v2.venue import UniswapV2Venue

_NUMERIC = ("gas", "nonce", "value", "chainId", "maxFeePerGas", "maxPriorityFeePerGas", "type")
POLL_S = 0.05
# a balance read answered a rate limit is asked this many times in all, waiting BALANCE_RETRY_S,
# then twice that, ... between tries, before the swap is held unbooked (until they are answered)
BALANCE_TRIES = 4
BALANCE_RETRY_S = 0.25
_log = logging.getLogger(__name__)
_MIN_REPLACE = Decimal("1.1")  # nodes refuse a same-nonce replacement raising fees by less


def unsigned_tx(record: TxRecord) -> dict[str, Any]:
    raw = dict(record.detail["tx"])
    return {k: int(v, 16) if k in _NUMERIC and isinstance(v, str) else v for k, v in raw.items()}


def _own_receipt(record: TxRecord, lookup: TxLookup) -> bool:
    """Whether `lookup` answered a receipt of `record`'s own hash, in a block."""
    if lookup.state != "mined":
        return False
    got = lookup.receipt.get("transactionHash")
    got = "0x" + bytes(got).hex() if isinstance(got, bytes | bytearray) else str(got)
    return got.lower() == record.tx_hash.lower()


class TxWatcher:
    """Turns what the chain knows of journaled transactions into order reports."""

    def __init__(self, venue: UniswapV2Venue, sender: TxSender) -> None:
        self.venue = venue
        self.sender = sender
        self._held_warned: set[str] = set()  # swaps held for unanswered balances, warned of

    async def wait_mined(self, record: TxRecord) -> Any:
        """Wait for `record`'s receipt; refuse with the reason when it reverted."""
        lookup = await self._poll(record)
        if lookup.state != "mined":
            raise DefinitiveVenueError(
                self.venue.name,
                f"approval tx {record.tx_hash} not mined within "
                f"{self.venue.settings.receipt_timeout_s}s; the order was not sent",
                "APPROVAL_PENDING",
            )
        self.venue.gas_from_receipt(record, lookup.receipt)
        if int(lookup.receipt["status"]) != 1:
            reason = await self._reason(record, lookup.receipt)
            raise DefinitiveVenueError(self.venue.name, f"approval reverted: {reason}", "REVERTED")
        self._save(record, "mined")
        return lookup.receipt

    async def wait(self, order: Order, record: TxRecord) -> OrderReport:
        """Wait up to the receipt timeout; a swap still pending is reported in flight."""
        if (await self._poll(record)).state == "mined":
            await crashpoints.pause_at(crashpoints.AFTER_RECEIPT, record.tx_hash)
        report = await self.resolve(order.client_order_id, order.symbol, [record])
        if report.status is OrderStatus.REJECTED:
            raise DefinitiveVenueError(self.venue.name, report.reason, "REVERTED")
        return report

    async def _lookup(self, record: TxRecord) -> TxLookup:
        s = self.venue.settings
        return await checked_lookup(self.venue.chain, record, self.venue.name, s.confirmations)

    async def _poll(self, record: TxRecord) -> TxLookup:
        loop = asyncio.get_running_loop()
        until = loop.time() + self.venue.settings.receipt_timeout_s
        while True:
            lookup = await self._lookup(record)
            if lookup.state == "mined" or loop.time() >= until:
                return lookup
            await asyncio.sleep(POLL_S)

    async def resolve(self, cid: str, symbol: str, records: list[TxRecord]) -> OrderReport:
        """Report an order from every transaction journaled for it; one whose swap is held
        unbooked (an RPC answer not booked on) is named in the venue's `held` until answered."""
        report = await self._resolve(cid, symbol, records)
        self.venue.held.release(cid)
        return report

    async def _resolve(self, cid: str, symbol: str, records: list[TxRecord]) -> OrderReport:
        gone = reorged_out(records)
        if gone is not None:  # booked, then taken out: never sent again
            return self._report(cid, symbol, gone, OrderStatus.REJECTED,
                                f"reorged out: {gone.tx_hash} left the chain after its fill "
                                "was booked; the fill is flagged failed")  # fmt: skip
        pending: TxRecord | None = None
        for record in sorted(records, key=lambda r: r.created_ts, reverse=True):
            try:
                lookup = await self._lookup(record)
                if lookup.state == "mined":
                    return await self._mined(cid, symbol, record, lookup.receipt)
            except AmbiguousVenueError as exc:
                if held_error(exc):
                    if await self._gone(records):  # none of its copies can mine, ever
                        return await self._taken(cid, symbol, records, held=str(exc))
                    self.venue.held.hold(cid, symbol, record.tx_hash, str(exc))
                raise
            if lookup.state == "confirming":  # in a block: neither resent nor replaced
                return self._report(cid, symbol, record, OrderStatus.ACCEPTED)
            if lookup.state == "pending" and pending is None:
                pending = record
        if pending is None:  # journaled open until what took the nonce is answered (`_taken`)
            pending = await self.rebroadcast(records, drop=False)
        if pending is None:
            return await self._taken(cid, symbol, records)
        pending = await self._unstick(pending)
        return self._report(cid, symbol, pending, OrderStatus.ACCEPTED)

    async def _taken(
        self, cid: str, symbol: str, records: list[TxRecord], held: str = ""
    ) -> OrderReport:
        """End an order whose nonce a transaction not journaled for it used: booked from that
        transaction when it made the very swap (another tool sped it up), else rejected as
        replaced by it, naming it, with nothing booked (`replaced.judge`). `held`: why the
        order's swap was held unbooked (none of its copies can mine: `_gone`)."""
        newest = max(records, key=lambda r: r.created_ts)
        taken = await self._taker(newest, records)
        for record in records:  # the search answered: none of them can mine
            self._save(record, "dropped")
        if taken is None and held:
            return self._dropped(cid, symbol, records, held)
        if taken is None:
            return self._report(cid, symbol, newest, OrderStatus.REJECTED,
                                "dropped: its nonce was used by another transaction")  # fmt: skip
        own = next((r for r in records if r.tx_hash.lower() == taken.tx_hash), None)
        if own is not None:  # the order's own, mined since it was looked up: never a copy
            return await self._own_late(cid, symbol, own)
        if taken.copy is not None:
            _log.warning(
                "%s: order %s: nonce %d of %s was used by %s, signed outside this node; it made "
                "the order's swap and is booked for it", self.venue.name, cid, newest.nonce,
                newest.sender, taken.tx_hash,
            )  # fmt: skip
            self.venue.store.save(taken.copy)
            lookup = await self._lookup(taken.copy)
            if lookup.state == "mined":
                return await self._mined(cid, symbol, taken.copy, lookup.receipt)
            return self._report(cid, symbol, taken.copy, OrderStatus.ACCEPTED)
        confirmations = self.venue.settings.confirmations
        if await self.venue.chain.block_number() - taken.block + 1 < confirmations:
            return self._report(cid, symbol, newest, OrderStatus.ACCEPTED)  # a reorg may undo it
        why = (
            f"replaced: its nonce {newest.nonce} was used by {taken.tx_hash}, a transaction "
            f"this node did not sign, which {taken.why}; nothing is booked on the order (the "
            "balance sync accounts for what that transaction moved)"
        )
        _log.warning("%s: order %s %s", self.venue.name, cid, why)
        return self._report(cid, symbol, newest, OrderStatus.REJECTED, why)

    async def _own_late(self, cid: str, symbol: str, own: TxRecord) -> OrderReport:
        """Book the order's own journaled swap, found to have used its nonce after a lookup
        that did not know it; one not yet confirmed stays journaled open (in flight)."""
        lookup = await self._lookup(own)
        if lookup.state == "mined":
            return await self._mined(cid, symbol, own, lookup.receipt)
        self.venue.store.save(own.with_status("sent", self.venue.now_ms()))
        return self._report(cid, symbol, own, OrderStatus.ACCEPTED)

    async def _taker(self, newest: TxRecord, records: list[TxRecord]) -> replaced.Taken | None:
        """What took `newest`'s nonce, judged; None when the node answers an error for the
        search (a pruned node keeping no state that far back: then it is only dropped)."""
        from web3.exceptions import Web3RPCError

        chain = self.venue.chain
        try:
            tx = await chain.tx_by_nonce(newest.sender, newest.nonce)
            lookup = await chain.lookup(replaced.tx_hash_of(tx)) if tx is not None else None
        except (Web3RPCError, RpcFailure) as exc:
            _log.info("%s: the transaction that used nonce %d of %s not found: %s",
                      self.venue.name, newest.nonce, newest.sender, exc)  # fmt: skip
            return None
        if tx is None or lookup is None or lookup.state != "mined":
            return None
        symbol = str(newest.detail["symbol"])
        base, _, quote = symbol.partition("/")
        tokens = (self.venue.settings.token(base), self.venue.settings.token(quote))
        pair = await self._pair(symbol, tokens)
        return replaced.judge(tx, lookup.receipt, records, tokens, pair, self.venue.now_ms())

    async def _gone(self, records: list[TxRecord]) -> bool:
        """Whether no copy of an order whose lookup is held can ever mine, by what the chain
        shows whatever the RPC answers of other transactions' receipts for them: the wallet's
        mined nonce is past theirs, no copy has a receipt of its own hash (one in a block is
        the chain's word that it mined, whatever a lookup by hash answers) and the node knows
        none of them by hash (neither pending nor in a block). Any doubt (a copy known, a read
        not answered) keeps the order held."""
        chain = self.venue.chain
        try:  # the nonce of the address that signed them, whichever wallet is configured now
            used = await chain.nonce(records[0].sender, pending=False)
            if any(r.nonce >= used for r in records):
                return False
            for record in records:
                lookup = await chain.lookup(record.tx_hash)
                if lookup.state == "pending" or _own_receipt(record, lookup):
                    return False
                if await chain.known(record.tx_hash):
                    return False
        except Exception as exc:  # no answer: held until one comes
            _log.info("%s: whether %s can still mine not read: %s", self.venue.name,
                      records[0].client_order_id, type(exc).__name__)  # fmt: skip
            return False
        return True

    def _dropped(self, cid: str, symbol: str, records: list[TxRecord], held: str) -> OrderReport:
        """End an order none of whose copies can mine (`_gone`): rejected as dropped, with
        nothing booked (its nonce was spent by a transaction not journaled for it)."""
        for record in records:
            self._save(record, "dropped")
        _log.warning(
            "%s: order %s is dropped: the chain knows none of its transactions and the wallet's "
            "nonce %d was used by another; it was held (%s)", self.venue.name, cid,
            records[-1].nonce, held,
        )  # fmt: skip
        return self._report(cid, symbol, records[-1], OrderStatus.REJECTED,
                            "dropped: its nonce was used by another transaction")  # fmt: skip

    async def _mined(self, cid: str, symbol: str, record: TxRecord, receipt: Any) -> OrderReport:
        report = await self._book(cid, symbol, record, receipt)
        # only once booked: a copy of the nonce left open until then keeps the order in the
        # balance read's sight across a crash
        for other in self.venue.store.for_order(self.venue.name, cid):
            same_nonce = other.nonce == record.nonce and other.tx_hash != record.tx_hash
            if same_nonce and other.status in OPEN_STATES:  # a copy that can no longer mine
                self._save(other, "dropped")
        return report

    async def _book(self, cid: str, symbol: str, record: TxRecord, receipt: Any) -> OrderReport:
        if int(receipt["status"]) != 1 or record.kind == "cancel":
            self.venue.gas_from_receipt(record, receipt)  # gas spent, nothing swapped
        if int(receipt["status"]) != 1:
            self._save(record, "reverted")
            reason = await self._reason(record, receipt)
            return self._report(cid, symbol, record, OrderStatus.REJECTED, reason)
        problem = await self._swap_problem(record, receipt) if record.kind == "swap" else ""
        if problem:
            raise AmbiguousVenueError(
                self.venue.name,
                f"receipt of {record.tx_hash} not booked: {problem}; "
                "the transaction stays open until the RPC answers for it",
                "RPC_ANSWER",
            )
        self._save(record, "mined")
        if record.kind == "cancel":
            return self._report(cid, symbol, record, OrderStatus.CANCELLED, "cancelled on chain")
        fill = self.venue.fill_from_receipt(record, receipt)
        self.venue.reorgs.booked(record, fill, int(receipt["blockNumber"]))
        return OrderReport(
            self.venue.name, symbol, cid, record.tx_hash, OrderStatus.FILLED,
            filled=fill.amount, avg_price=fill.price, amount=fill.amount,
            ts=fill.ts, side=fill.side.value,
        )  # fmt: skip

    async def _swap_problem(self, record: TxRecord, receipt: Any) -> str:
        """Why a successful swap receipt does not prove what the wallet moved, or ''. The logs'
        figures (`prove_swap`) are held to the wallet's balances before and after its block,
        (a node answering errors for them holds the swap unbooked, never booked on its logs).
        A shortfall between the pair's Swap amountOut and what the wallet received is a fee
        on transfer only for a token declared to take one, journaled with the record."""
        symbol = str(record.detail["symbol"])
        base, _, quote = symbol.partition("/")
        tokens = (self.venue.settings.token(base), self.venue.settings.token(quote))
        side = Side(str(record.detail["side"]))
        pair = await self._pair(symbol, tokens)
        proof = prove_swap(receipt, side, tokens, pair, record.sender, record.detail)
        if isinstance(proof, str):
            return proof
        token_in, token_out = tokens if side is Side.SELL else tokens[::-1]
        if proof.transfer_fee and not token_out.fee_on_transfer:
            return (
                f"the pair's Swap log pays {proof.swap_out} {token_out.symbol} units but the "
                f"wallet's Transfer logs receive {proof.received}; {token_out.symbol} is not "
                "declared to take a fee on transfer (venues.dex.fee_on_transfer)"
            )
        moved = {token_in: -proof.sent, token_out: proof.received}
        block = int(receipt["blockNumber"])
        problem, unread = await self._balance_problem(moved, record.sender, block, record.tx_hash)
        if not problem and unread:
            return self._held(record, block, unread)
        if not problem and proof.transfer_fee:
            self._record_fee(record, token_out, proof)
        return problem

    async def _pair(self, symbol: str, tokens: tuple[Token, Token]) -> str:
        """The pair of `symbol`'s tokens: the listed one, else (a swap journaled before its
        symbol left `symbols`) the configured or the factory's."""
        if symbol in self.venue.pairs:
            return self.venue.pairs[symbol][0]
        s = self.venue.settings
        factory = self.venue.chain.contract(s.factory, abi.FACTORY).functions
        listed = s.pairs.get(symbol)
        return listed or str(await factory.getPair(tokens[0].address, tokens[1].address).call())

    async def _balance_problem(
        self, moved: dict[Token, int], wallet: str, block: int, tx_hash: str
    ) -> tuple[str, str]:
        """Why the wallet's balances did not move by `moved` units in `block`, or '' (also
        when the node answers an error for them, e.g. keeps no state of the block before: then
        with that error, second, and the caller holds the swap; a result that is no balance
        leaves the receipt unbooked too).
        Other transactions of the block moving the same token for the wallet (another swap of
        ours, anyone's transfer to it) are counted from the block's Transfer logs."""
        tokens = list(moved)
        try:
            figures = await self._balances_around(tokens, wallet, block)
        except NoState as exc:  # an error for them: no state that far back (a pruned node)
            return "", str(exc)
        except Exception as exc:  # no answer, or no balance: asked again at the next lookup
            why = f"the wallet's balances around block {block} not read ({type(exc).__name__})"
            return why, ""
        for i, token in enumerate(tokens):
            before, after = figures[i], figures[len(tokens) + i]
            if after - before == moved[token]:
                continue
            change = (moved[token], after - before)
            why = await self._unexplained(token, wallet, block, tx_hash, change)
            if why:
                return (
                    f"the wallet's {token.symbol} balance went from {before} to {after} units "
                    f"in block {block}, but the receipt's Transfer logs move {moved[token]}{why}"
                ), ""
        return "", ""

    async def _balances_around(self, tokens: list[Token], wallet: str, block: int) -> list[int]:
        """The wallet's balances of `tokens` at the block before `block` and at `block`; a rate
        limit is asked again, BALANCE_TRIES times in all, then raised (with the count)."""
        for attempt in range(1, BALANCE_TRIES + 1):
            try:
                return await self.venue.chain.balances_at(
                    [t.address for t in tokens], wallet, [block - 1, block]
                )
            except RateLimited as exc:
                if attempt == BALANCE_TRIES:
                    raise RateLimited(f"{exc} ({BALANCE_TRIES} tries)") from None
                await asyncio.sleep(BALANCE_RETRY_S * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _unexplained(
        self, token: Token, wallet: str, block: int, tx_hash: str, change: tuple[int, int]
    ) -> str:
        """'' when the block's Transfer logs of `token` for the wallet have this transaction
        move what its receipt says (`change[0]`) and all of them together what the balance
        moved (`change[1]`); else why not, in words that follow the balance's figures."""
        try:
            logs = await self.venue.chain.transfers_at(token.address, wallet, block)
        except Exception as exc:  # no answer or no logs: asked again at the next lookup
            return f" (the block's Transfer logs not read: {type(exc).__name__})"
        mine = sum(units for h, units in logs if h == tx_hash.lower())
        total = sum(units for _, units in logs)
        if (mine, total) == change:
            return ""
        return (
            f"; the block's Transfer logs of the wallet move {total}, {mine} of them in this "
            "transaction"
        )

    def _held(self, record: TxRecord, block: int, unread: str) -> str:
        """Why a swap whose balances the node answers errors for is not booked: its logs alone
        prove nothing against an RPC whose logs lie in agreement. Warned once per swap."""
        if record.tx_hash not in self._held_warned:
            self._held_warned.add(record.tx_hash)
            _log.warning(
                "%s: tx %s held unbooked: the wallet's balances around block %d were not answered "
                "(%s); it is booked once they are", self.venue.name, record.tx_hash, block,
                unread,
            )  # fmt: skip
        return (
            f"the wallet's balances around block {block} were not answered ({unread}); the "
            "swap is held, in flight, until they prove its logs (a node keeping no state of "
            "that block never will: point venues.dex.rpc_url at one that does)"
        )

    def _record_fee(self, record: TxRecord, token: Token, proof: SwapProof) -> None:
        fee = {"token": token.symbol, "units": str(proof.transfer_fee),
               "amount": str(from_units(proof.transfer_fee, token.decimals))}  # fmt: skip
        record.detail["transfer_fee"] = fee
        _log.warning(
            "%s: %s kept %s %s of the %s units the pair paid out (a fee on transfer); %s is "
            "booked at the %s units received", self.venue.name, token.symbol, fee["amount"],
            token.symbol, proof.swap_out, record.tx_hash, proof.received,
        )  # fmt: skip

    async def rebroadcast(self, records: list[TxRecord], drop: bool = True) -> TxRecord | None:
        """Broadcast the newest journaled bytes again while their nonce is still unused; else
        None, with the records marked dropped unless `drop` is False (the caller does)."""
        newest = max(records, key=lambda r: (bool(r.raw_tx), r.created_ts))  # bytes we signed
        used = await self.venue.chain.nonce(newest.sender, pending=False)  # its signer's count
        if newest.nonce < used:
            for r in records if drop else ():
                self._save(r, "dropped")
            return None
        return await self.sender.broadcast(newest)

    async def _unstick(self, record: TxRecord) -> TxRecord:
        """Replace a transaction pending past `stuck_after_s` with a bumped fee, or cancel it."""
        s = self.venue.settings
        age_s = (self.venue.now_ms() - record.created_ts) / 1000
        if age_s < s.stuck_after_s or not self._signs_for(record):
            return record  # young, or signed by a wallet no longer configured: left to mine
        return await self.bump(record, cancel=False)

    def _signs_for(self, record: TxRecord) -> bool:
        """Whether the configured wallet signed `record` (one journaled before the wallet
        changed can be replaced only by its own key, never by this one's same nonce)."""
        return record.sender.lower() == self.sender.address.lower()

    async def bump(self, record: TxRecord, cancel: bool) -> TxRecord:
        """Re-sign `record`'s nonce with fees raised by fee_bump_pct; cancel = self-transfer."""
        if not self._signs_for(record):
            raise DefinitiveVenueError(
                self.venue.name,
                f"cannot replace tx {record.tx_hash}: it was signed by {record.sender}, the "
                f"configured wallet is {self.sender.address}; it is followed until it mines or "
                "its nonce is used (replace it with the wallet that signed it)",
                "WALLET_CHANGED",
            )
        bump = 1 + self.venue.settings.fee_bump_pct / 100
        tx = unsigned_tx(record)
        fee = int(Decimal(tx["maxFeePerGas"]) * bump) + 1
        tip = int(Decimal(tx["maxPriorityFeePerGas"]) * bump) + 1
        if fee > self.sender.max_fee_cap_wei and cancel:
            # the least raise a node takes as a replacement (10 % on fee and tip), under the cap
            fee = int(Decimal(tx["maxFeePerGas"]) * _MIN_REPLACE) + 1
            tip = int(Decimal(tx["maxPriorityFeePerGas"]) * _MIN_REPLACE) + 1
        if fee > self.sender.max_fee_cap_wei:
            if not cancel:
                return await self.bump(record, cancel=True)
            raise DefinitiveVenueError(
                self.venue.name,
                f"cannot replace tx {record.tx_hash}: a bumped fee of {gwei(fee)} gwei is above "
                f"max_fee_per_gas_gwei={gwei(self.sender.max_fee_cap_wei)}",
                "FEE_CAP",
            )
        if cancel:
            me = self.sender.address
            tx = {"to": me, "from": me, "value": 0, "data": "0x", "gas": 21_000}
        tx.update(maxFeePerGas=fee, maxPriorityFeePerGas=min(tip, fee))
        return await self.sender.resign(record, tx, "cancel" if cancel else record.kind)

    async def cancel(self, cid: str) -> None:
        """Cancel the order's pending swap by a zero-value self-transfer with its nonce."""
        for record in self.venue.store.for_order(self.venue.name, cid):
            if record.kind != "swap" or record.status not in ("signed", "sent"):
                continue
            if (await self._lookup(record)).state == "pending":
                await self.bump(record, cancel=True)

    async def _reason(self, record: TxRecord, receipt: Any) -> str:
        reason = await self.venue.chain.replay_reason(record.tx_hash, int(receipt["blockNumber"]))
        return reason or f"transaction {record.tx_hash} reverted"

    def _save(self, record: TxRecord, status: str) -> None:
        if record.status != status:
            self.venue.store.save(record.with_status(status, self.venue.now_ms()))

    def _report(
        self, cid: str, symbol: str, record: TxRecord, status: OrderStatus, reason: str = ""
    ) -> OrderReport:
        return OrderReport(
            self.venue.name, symbol, cid, record.tx_hash, status, reason=reason,
            ts=self.venue.now_ms(), side=str(record.detail.get("side", "")),
        )  # fmt: skip
