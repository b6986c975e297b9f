"""A Uniswap V2 pool set as a venue: market orders become router swaps from one wallet.

```python
venue = UniswapV2Venue("dex", settings, store, private_key)
await venue.connect()                          # chain id, pairs from the factory, reserves
price = venue.quote("WETH/USD", Side.SELL, Decimal("1"))   # from cached reserves, fee included
report = await venue.submit(order)             # approve exact amount, swap, fill from receipt
```

A sell is an exact-input swap (`amountOutMin` = quote less the slippage cap); a buy is an
exact-output swap (`amountInMax` = quote plus the cap). Every transaction is journaled before
broadcast (`TxSender`); `fetch_order` looks a journaled hash up and never signs a second swap.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from tradeguard.model.balance import Balance
from tradeguard.model.enums import OrderStatus, OrderType, Side
from tradeguard.model.errors import AmbiguousVenueError, ConfigError, DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.order import Order
from tradeguard.model.reports import OrderReport
from tradeguard.venues.base import Venue
from tradeguard.venues.fill_balances import BalanceReader
from tradeguard.venues.uniswap_v2 import abi, amm, crashpoints
from tradeguard.venues.uniswap_v2.fills import gas_fill, swap_fill
from tradeguard.venues.uniswap_v2.held import HeldSwaps, book_mined, mined_by, open_reports
from tradeguard.venues.uniswap_v2.pool_guard import Observation, PoolGuard
from tradeguard.venues.uniswap_v2.receipts import checked_lookup
from tradeguard.venues.uniswap_v2.reorg import ReorgWatch
from tradeguard.venues.uniswap_v2.rpc import (
    ChainClient,
    RpcFailure,
    RpcUnreachable,
    TxLookup,
    scrub_urls,
)
from tradeguard.venues.uniswap_v2.sender import GWEI, TxSender
from tradeguard.venues.uniswap_v2.settings import DexSettings, Token
from tradeguard.venues.uniswap_v2.txstore import TxRecord, TxStore
from tradeguard.venues.uniswap_v2.waiting import TxWatcher

FEE = Decimal("0.003")


PAUSE_ENV = crashpoints.AFTER_BROADCAST  # crash tests: see crashpoints


def _now_ms() -> int:
    return int(time.time() * 1000)


def _rpc_errors() -> tuple[type[BaseException], ...]:
    """What web3 raises for an RPC that did not answer or answered what it cannot read."""
    from web3.exceptions import Web3Exception

    return (ValueError, TypeError, ArithmeticError, ConnectionError, Web3Exception)


def _first_line(exc: BaseException) -> str:
    return scrub_urls(f"{type(exc).__name__}: {exc}".splitlines()[0])[:300]


class UniswapV2Venue(Venue):
    """Swaps on a Uniswap V2 router from one wallet; fills come from receipts."""

    def __init__(
        self,
        name: str,
        settings: DexSettings,
        store: TxStore,
        private_key: str,
        now_ms: Callable[[], int] = _now_ms,
        chain: ChainClient | None = None,
    ) -> None:
        super().__init__(name)
        self.settings = settings
        self.store = store
        self.now_ms = now_ms
        self.chain = chain or ChainClient(settings.rpc_url)
        self.pool_guard = PoolGuard(
            name, self.chain, settings.twap_window_s, settings.max_pool_deviation_pct,
            settings.reference_marks,
        )  # fmt: skip
        self._key = private_key
        self.sender: TxSender | None = None
        self.pairs: dict[str, tuple[str, bool]] = {}  # symbol -> (pair, base is token0)
        self.reserves: dict[str, amm.Reserves] = {}
        self.fills: dict[str, Fill] = {}  # by trade id (tx hash)
        self.failed_fills: dict[str, Fill] = {}  # booked, then reorged out: for reconciliation
        self.reorgs = ReorgWatch()  # swaps booked lately, looked up again at each balance read
        self.held = HeldSwaps(name, now_ms)  # swaps mined, not booked on the RPC's answer
        self.watcher: TxWatcher | None = None
        # Balances read after each receipt's fill, as the prediction venues do after theirs:
        # `tradeguard balances` shows the swap at once, not at the next balance sync.
        self.balance_reader = BalanceReader(name, self._fill_balances, self.push_balances)

    def __repr__(self) -> str:
        return f"UniswapV2Venue(name={self.name!r}, router={self.settings.router})"

    @property
    def address(self) -> str:
        """The wallet address (public; the key never leaves the sender)."""
        return self._sender().address

    def _sender(self) -> TxSender:
        if self.sender is None:
            raise DefinitiveVenueError(self.name, "venue is not connected (call connect first)")
        return self.sender

    # connection and markets ----------------------------------------------------------------
    async def connect(self) -> None:
        """Check the chain id, start the signer, read the pairs and their reserves. An RPC that
        does not answer, or answers no chain id, is refused in one line naming its host."""
        try:
            await self._connect()
        except RpcUnreachable as exc:
            raise DefinitiveVenueError(
                self.name, f"{exc}; is the chain's node running (`tradeguard chain` for the "
                "local one) and venues.dex.rpc_url its address?", "RPC_UNREACHABLE",
            ) from None  # fmt: skip

    async def _chain_id(self) -> int:
        from tradeguard.venues.uniswap_v2.config import shown_url

        try:
            chain_id = await self.chain.chain_id()
        except (ValueError, TypeError) as exc:
            chain_id, why = -1, f"({exc})"
        else:
            why = f"={chain_id}"
        if not 1 <= chain_id < 2**64:
            raise DefinitiveVenueError(
                self.name,
                f"the RPC at {shown_url(self.settings.rpc_url)} answered eth_chainId{why}, "
                "not a chain id (an integer from 1 to 2^64-1); refusing to start",
                "RPC_ANSWER",
            )
        return chain_id

    async def _connect(self) -> None:
        s = self.settings
        chain_id = await self._chain_id()
        if s.chain_id is not None and chain_id != s.chain_id:
            from tradeguard.venues.uniswap_v2.config import shown_url

            raise ConfigError(
                f"venue {self.name}: venues.dex.chain_id={s.chain_id} but the RPC at "
                f"{shown_url(s.rpc_url)} answers eth_chainId={chain_id}; refusing to start: "
                "point rpc_url at the chain you meant, or correct chain_id"
            )
        cap = int(s.max_fee_per_gas_gwei * GWEI)
        tip = int(s.priority_fee_gwei * GWEI)
        if self.sender is None:  # the key goes to the signer once and lives only there
            self.sender = TxSender(
                self.name, self.chain, self.store, self._key, chain_id, cap, tip, self.now_ms
            )
            self._key = ""
        self.sender.chain_id = chain_id  # connected again: a node started again in this process
        self.watcher = TxWatcher(self, self.sender)
        await self._check_decimals()
        factory = self.chain.contract(s.factory, abi.FACTORY)
        for symbol in s.symbols:
            base, quote = self._tokens(symbol)
            pair = (
                s.pairs.get(symbol)
                or await factory.functions.getPair(base.address, quote.address).call()
            )
            if int(pair, 16) == 0:
                raise DefinitiveVenueError(
                    self.name, f"no pool for {symbol} at factory {s.factory}", "NO_POOL"
                )
            self.pairs[symbol] = (pair, int(base.address, 16) < int(quote.address, 16))
            await self.refresh(symbol)
            await self.observe(symbol)

    async def _check_decimals(self) -> None:
        """Refuse to start when a token's configured decimals are not the contract's: amounts
        would be off by powers of ten (USDC has 6, the default is 18)."""
        from web3.exceptions import Web3Exception

        for token in self.settings.tokens.values():
            try:
                on_chain = await self.chain.decimals(token.address)
            except (Web3Exception, ValueError):  # no contract there, or no decimals()
                raise ConfigError(
                    f"venue {self.name}: token {token.symbol} at {token.address} answers no "
                    "decimals(): no ERC-20 contract there; check venues.dex.tokens."
                    f"{token.symbol} and chain_id"
                ) from None
            if on_chain != token.decimals:
                raise ConfigError(
                    f"venue {self.name}: token {token.symbol} at {token.address} has "
                    f"{on_chain} decimals on chain but venues.dex.token_decimals gives "
                    f"{token.decimals}; set token_decimals.{token.symbol} = {on_chain}"
                )

    async def close(self) -> None:
        await self.balance_reader.close()
        await self.chain.close()

    def _tokens(self, symbol: str) -> tuple[Token, Token]:
        base, _, quote = symbol.partition("/")
        return self.settings.token(base), self.settings.token(quote)

    async def load_instruments(self) -> dict[str, Instrument]:
        out: dict[str, Instrument] = {}
        for symbol in self.settings.symbols:
            base, quote = self._tokens(symbol)
            out[symbol] = Instrument(
                venue=self.name, symbol=symbol, base=base.symbol, quote=quote.symbol,
                price_tick=Decimal(1).scaleb(-quote.decimals),
                amount_step=Decimal(1).scaleb(-base.decimals), maker_fee=FEE, taker_fee=FEE,
                max_notional=self.settings.max_tx_value,
            )  # fmt: skip
        return out

    async def refresh(self, symbol: str) -> amm.Reserves:
        """Read the pair's reserves (getReserves) into the cache."""
        pair, base_first = self.pairs[symbol]
        r0, r1, block = await self.chain.reserves(pair)
        reserves = amm.Reserves(r0, r1, block) if base_first else amm.Reserves(r1, r0, block)
        self.reserves[symbol] = reserves
        return reserves

    async def observe(self, symbol: str, check: bool = False) -> Observation:
        """Read the pool's price sum (at the latest block) for its time-weighted price; with
        `check`, refuse a pool past `max_pool_deviation_pct` of it (`POOL_PRICE`)."""
        base, quote = self._tokens(symbol)
        pair, base_first = self.pairs[symbol]
        args = (symbol, pair, base_first, base.decimals, quote.decimals)
        guard = self.pool_guard
        return await (guard.check(*args) if check else guard.observe(*args))

    def apply_sync(self, pair: str, reserve0: int, reserve1: int, block: int) -> str | None:
        """Take a pair's Sync event into the cache; return the symbol it belongs to."""
        for symbol, (address, base_first) in self.pairs.items():
            if address.lower() == pair.lower():
                cached = self.reserves.get(symbol)
                if cached is not None and cached.block > block:
                    return None  # older than what getReserves already gave
                r = (reserve0, reserve1) if base_first else (reserve1, reserve0)
                self.reserves[symbol] = amm.Reserves(r[0], r[1], block)
                return symbol
        return None

    def quote(self, symbol: str, side: Side, amount: Decimal) -> Decimal:
        """Return the average price of trading `amount` base now (cached reserves, 0.3 % fee)."""
        base, quote = self._tokens(symbol)
        r = self.reserves[symbol]
        units = amm.to_units(amount, base.decimals)
        if side is Side.SELL:
            got = amm.amount_out(units, r.base, r.quote)
        else:
            got = amm.amount_in(units, r.quote, r.base)
        return amm.from_units(got, quote.decimals) / amount

    @property
    def quote_symbols(self) -> list[str]:
        """The symbols whose quotes the node streams even when no strategy trades them."""
        return list(self.settings.symbols)

    def lists(self, symbol: str) -> bool:
        """Tell whether `symbol` is one of the venue's pools (reference prices)."""
        return symbol in self.settings.symbols

    async def fetch_reference_quote(self, symbol: str) -> Quote | None:
        """The pool's quote from reserves read now (None for a pool the venue has not)."""
        if not self.lists(symbol):
            return None
        from tradeguard.venues.uniswap_v2.quotes import reserve_quote

        await self.refresh(symbol)
        return reserve_quote(self, symbol)

    def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """Quotes from the reserves: Sync events of new blocks, re-read every quote_refresh_s."""
        from tradeguard.venues.uniswap_v2.quotes import reserve_quotes

        return reserve_quotes(self, symbols)

    def mid(self, symbol: str) -> Decimal:
        """Return the reserves' ratio (quote per base), no fee, no impact."""
        base, quote = self._tokens(symbol)
        return self.reserves[symbol].mid(base.decimals, quote.decimals)

    # orders --------------------------------------------------------------------------------
    async def submit(self, order: Order) -> OrderReport:
        """Swap for `order`. An RPC answer web3 cannot read (or no answer) before the swap is
        journaled rejects it in words; after, the order is in flight until a lookup answers."""
        try:
            return await self._submit(order)
        except AmbiguousVenueError:
            raise
        except DefinitiveVenueError as exc:
            # A swap broadcast and not known to have failed may still mine: a refusal met after
            # it (a fee bump past the cap, a chain id that changed) leaves the order in flight.
            if exc.code == "REVERTED" or not self._swap_sent(order.client_order_id):
                raise
            raise AmbiguousVenueError(
                self.name,
                f"swap sent, still pending: {str(exc).removeprefix(self.name + ': ')}",
                exc.code,
            ) from None
        except _rpc_errors() as exc:
            text = _first_line(exc)
            if self._swap_sent(order.client_order_id):
                raise AmbiguousVenueError(
                    self.name, f"swap sent, outcome unknown: {text}"
                ) from None
            raise DefinitiveVenueError(
                self.name, f"order refused: the RPC's answer could not be read: {text}",
                "RPC_ANSWER",
            ) from None  # fmt: skip

    def _swap_sent(self, client_order_id: str) -> bool:
        """Tell whether a swap (or its replacement) is journaled for the order and not dropped."""
        return any(
            r.kind != "approve" and r.status != "dropped"
            for r in self.store.for_order(self.name, client_order_id)
        )

    async def _submit(self, order: Order) -> OrderReport:
        known = self.store.for_order(self.name, order.client_order_id)
        if any(r.kind != "approve" for r in known):
            report = await self.fetch_order(order.client_order_id, order.symbol)
            if report is not None:
                return report
        if order.type is not OrderType.MARKET:
            raise DefinitiveVenueError(
                self.name, f"order type {order.type.value} is not supported; use market", "TYPE"
            )
        plan = await self._plan(order)
        sender = self._sender()
        await self._approve(order, plan["token_in"], plan["max_in"])
        plan["tx"]["gas"] = self.settings.gas_limit or await self._estimate(plan["tx"])
        record = await sender.send(
            order.client_order_id, "swap", plan["tx"], {"symbol": order.symbol,
            "side": order.side.value, "amount_in_max": str(plan["max_in"]),
            "min_out": str(plan["min_out"])},
        )  # fmt: skip
        await crashpoints.pause_at(crashpoints.AFTER_BROADCAST, record.tx_hash)
        return await self._watcher().wait(order, record)

    def _watcher(self) -> TxWatcher:
        if self.watcher is None:
            raise DefinitiveVenueError(self.name, "venue is not connected (call connect first)")
        return self.watcher

    async def _plan(self, order: Order) -> dict[str, Any]:
        """Quote from fresh reserves, apply the caps, and build the router call."""
        s = self.settings
        base, quote = self._tokens(order.symbol)
        await self.refresh(order.symbol)
        latest = await self.observe(order.symbol, check=True)
        # quoted from the very reserves the pool check judged, not an earlier read of them
        r = amm.Reserves(*latest.reserves)
        self.reserves[order.symbol] = r
        units = amm.to_units(order.amount, base.decimals)
        if order.side is Side.SELL:
            quoted = amm.amount_out(units, r.base, r.quote)
            min_out = amm.min_out(quoted, s.slippage_bps)
            path, fn_name = [base.address, quote.address], "swapExactTokensForTokens"
            token_in, max_in = base, units
        else:
            quoted = amm.amount_in(units, r.quote, r.base)
            max_in = amm.max_in(quoted, s.slippage_bps)
            path, fn_name = [quote.address, base.address], "swapTokensForExactTokens"
            token_in, min_out = quote, units
        self._check_value_cap(order, amm.from_units(quoted, quote.decimals), quote)
        min_out, max_in = self._within_bound(order, quoted, quote, min_out, max_in)
        args = (units, min_out) if order.side is Side.SELL else (units, max_in)
        # from now or the latest block, the later: a chain mining only for transactions stamps
        # the next block with the time it is mined, however old the latest one is
        deadline = max(latest.ts, self.now_ms() // 1000) + s.deadline_s
        router = self.chain.contract(s.router, abi.ROUTER)
        sender = self._sender()
        fn = getattr(router.functions, fn_name)(*args, path, sender.address, deadline)
        data = fn._encode_transaction_data()
        tx: dict[str, Any] = {"to": router.address, "value": 0, "data": data}
        return {"tx": tx, "token_in": token_in, "max_in": max_in, "min_out": min_out}

    def _within_bound(
        self, order: Order, quoted: int, quote: Token, min_out: int, max_in: int
    ) -> tuple[int, int]:
        """Hold the swap to the risk engine's price bound: refuse a quote past it, and never let
        amountOutMin / amountInMax allow worse than the bound."""
        bound = order.price_bound
        if bound is None or bound <= 0:
            return min_out, max_in
        limit = order.amount * bound
        limit_units = amm.to_units(
            limit.quantize(Decimal(1).scaleb(-quote.decimals), ROUND_FLOOR if order.side is
            Side.SELL else ROUND_CEILING), quote.decimals,
        )  # fmt: skip
        sell = order.side is Side.SELL
        if (quoted < limit_units) if sell else (quoted > limit_units):
            avg = amm.from_units(quoted, quote.decimals) / order.amount
            raise DefinitiveVenueError(
                self.name,
                f"swap refused: the pool's price {avg:.6f} {quote.symbol} for {order.amount:f} "
                f"{order.symbol} is past the risk bound {bound:f} "
                "(risk.market_slippage_cap_pct from the reserves' mid)",
                "PRICE_BOUND",
            )
        if sell:
            return max(min_out, limit_units), max_in
        return min_out, min(max_in, limit_units)

    def _check_value_cap(self, order: Order, notional: Decimal, quote: Token) -> None:
        cap = self.settings.max_tx_value
        if cap > 0 and notional > cap:
            raise DefinitiveVenueError(
                self.name,
                f"order refused: swap value {notional:f} {quote.symbol} exceeds max_tx_value="
                f"{cap:f} {quote.symbol} per transaction; split it or send it through the "
                "multi-sig by hand (docs/dex.md)",
                "TX_VALUE_CAP",
            )

    async def _approve(self, order: Order, token: Token, amount: int) -> None:
        """Approve the router for exactly `amount` (or unlimited when configured) if short."""
        sender = self._sender()
        have = await self.chain.allowance(token.address, sender.address, self.settings.router)
        if have >= amount:
            return
        value = abi.MAX_UINT256 if self.settings.approve_unlimited else amount
        erc20 = self.chain.contract(token.address, abi.ERC20)
        data = erc20.functions.approve(self.settings.router, value)._encode_transaction_data()
        tx = {"to": erc20.address, "value": 0, "data": data}
        tx["gas"] = self.settings.gas_limit or await self._estimate(tx)
        detail = {"amount": str(value), "symbol": order.symbol, "side": order.side.value}
        record = await sender.send(f"{order.client_order_id}:approve", "approve", tx, detail)
        await self._watcher().wait_mined(record)

    async def _estimate(self, tx: dict[str, Any]) -> int:
        try:
            gas = await self.chain.estimate_gas({**tx, "from": self._sender().address})
        except RpcFailure as exc:
            raise DefinitiveVenueError(
                self.name, f"swap refused: {exc.reason}", "REVERTED"
            ) from None
        return gas * 12 // 10

    async def cancel(self, order: Order) -> OrderReport:
        """A pending swap is cancelled by a zero-value self-transfer with its nonce."""
        await self._watcher().cancel(order.client_order_id)
        report = await self.fetch_order(order.client_order_id, order.symbol)
        if report is None:
            cid, status = order.client_order_id, OrderStatus.CANCELLED
            return OrderReport(self.name, order.symbol, cid, "", status)
        return report

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        with self._unanswered(f"order {client_order_id} not looked up"):
            return await self._fetch_order(client_order_id, symbol)

    async def _fetch_order(self, client_order_id: str, symbol: str) -> OrderReport | None:
        await self._book_approvals(client_order_id)
        known = self.store.for_order(self.name, client_order_id)
        records = [r for r in known if r.kind != "approve"]
        if not records:
            return None
        return await self._watcher().resolve(client_order_id, symbol, records)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        return await open_reports(self, symbol)  # a swap held unbooked: in flight, with why

    async def fetch_fills(self, symbol: str, since_ts: int = 0) -> list[Fill]:
        await self._book_approvals()
        return [f for f in self.fills.values() if f.symbol == symbol and f.ts >= since_ts]

    async def fetch_balances(self) -> list[Balance]:
        self.balance_reader.read_started()
        try:
            with self._unanswered("balances not read"):
                return await self._read_balances()
        finally:
            self.balance_reader.read_finished()

    async def _fill_balances(self) -> list[Balance]:
        try:
            return await self.fetch_balances()
        except (AmbiguousVenueError, DefinitiveVenueError):
            raise
        except Exception as exc:  # the node's RPC unreachable: the next read tries again
            raise AmbiguousVenueError(self.name, f"balances not read: {exc}") from None

    @contextlib.contextmanager
    def _unanswered(self, what: str) -> Iterator[None]:
        """Turn an RPC that did not answer, or answered what web3 cannot read, into an
        unanswered query (the caller asks again later), never a crash of its loop."""
        try:
            yield
        except (AmbiguousVenueError, DefinitiveVenueError):
            raise
        except _rpc_errors() as exc:
            raise AmbiguousVenueError(self.name, f"{what}: {_first_line(exc)}", "RPC") from None

    async def _read_balances(self) -> list[Balance]:
        """Balances as of one block, once every journaled transaction mined by that block has its
        fill booked: a swap mined before this read is never seen as a balance without a fill,
        but one held unbooked (`held`), whose order stays in flight (the balance sync waits)."""
        me = self._sender().address
        # the last block with `confirmations` on it: a swap not booked yet is not in it either
        head = await self.chain.block_number()
        await self.reorgs.check(self, head)  # a booked swap a reorg took out: flagged failed
        block = max(head - (self.settings.confirmations - 1), 0)
        await self._book_mined(block)
        gas, wei = self.settings.gas_asset, await self.chain.eth_balance(me, block)
        out = [Balance(self.name, gas, amm.balance(wei, 18, gas, native=True))]
        for t in self.settings.tokens.values():
            units, supply = await self.chain.token_holding(t.address, me, block)
            free = amm.balance(units, t.decimals, t.symbol, supply=supply)
            out.append(Balance(self.name, t.symbol, free))
        return [b for b in out if b.free != 0]

    def fill_from_receipt(self, record: TxRecord, receipt: Any) -> Fill:
        """Decode a mined swap's fill and hand it to the listener (once per hash)."""
        symbol = str(record.detail["symbol"])
        base, quote = self._tokens(symbol)
        side = Side(str(record.detail["side"]))
        fill = swap_fill(
            self.name, symbol, record.client_order_id, side, receipt, base, quote,
            record.sender, self.now_ms(),
        )  # fmt: skip
        return self._deliver(fill)

    def gas_from_receipt(self, record: TxRecord, receipt: Any) -> Fill | None:
        """Book the gas of a mined transaction that swapped nothing as a fee-only fill."""
        symbol = str(record.detail.get("symbol", ""))
        if not symbol or int(receipt.get("gasUsed") or 0) == 0:
            return None
        side = Side(str(record.detail.get("side", "buy")))
        cid = record.client_order_id.removesuffix(":approve")
        fill = self._deliver(gas_fill(self.name, symbol, cid, side, receipt, self.now_ms()))
        self.reorgs.booked(record, fill, int(receipt["blockNumber"]))  # gas a reorg can undo
        return fill

    async def _lookup(self, record: TxRecord) -> TxLookup:
        return await checked_lookup(self.chain, record, self.name, self.settings.confirmations)

    async def _book_mined(self, block: int) -> None:
        await book_mined(self, block)  # a swap held unbooked is left in flight

    async def _book_approvals(
        self, client_order_id: str | None = None, until_block: int | None = None
    ) -> None:
        """Book the gas of approvals mined while nobody waited for their receipt (the process
        died, or the wait timed out): once each, the trade id being the hash; with
        `until_block`, only those mined by that block. An approval the node never heard of (the
        process died between journal and broadcast) is broadcast again while its nonce is
        unused, else marked dropped: a journaled nonce left unsent would stall every later one."""
        for record in self.store.open_records(self.name):
            if record.kind != "approve" or record.tx_hash in self.fills:
                continue
            if (
                client_order_id is not None
                and record.client_order_id != f"{client_order_id}:approve"
            ):
                continue
            lookup = await self._lookup(record)
            if mined_by(lookup, until_block):
                self.gas_from_receipt(record, lookup.receipt)
                status = "mined" if int(lookup.receipt["status"]) == 1 else "reverted"
                self.store.save(record.with_status(status, self.now_ms()))
            elif lookup.state == "unknown":
                with contextlib.suppress(DefinitiveVenueError):  # refused: marked dropped
                    await self._watcher().rebroadcast([record])

    def _deliver(self, fill: Fill) -> Fill:
        if fill.trade_id not in self.fills:
            self.fills[fill.trade_id] = fill
            if self._listener is not None:
                self._listener.on_fill(fill)
                self.balance_reader.after_fill()
        return self.fills[fill.trade_id]
