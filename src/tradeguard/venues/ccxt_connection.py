"""The connection under a ccxt venue: paced requests, mapped errors, raw answers read as model."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, localcontext
from typing import Any

import ccxt

from tradeguard.clock import Clock
from tradeguard.model.balance import Balance
from tradeguard.model.enums import LiquiditySide, OrderStatus, Side
from tradeguard.model.errors import AmbiguousVenueError, ConfigError, DefinitiveVenueError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.money import ZERO, dec, plain, venue_amount
from tradeguard.model.reports import OrderReport
from tradeguard.secrets.permissions import check_withdrawal_permission
from tradeguard.secrets.redact import redact
from tradeguard.venues.base import Venue
from tradeguard.venues.ccxt_clients import (
    NONCE_PER_KEY,
    SPOT_OPTIONS,
    ClientFactory,
    own_decimal_context,
)
from tradeguard.venues.ccxt_ratelimit import RateLimiter

# One logger for the whole venue, whichever module logs.
log = logging.getLogger("tradeguard.venues.ccxt_venue")

# Where an exchange takes our client order id on a new order, and on a query or cancel.
# Exchanges whose stop, take-profit and OCO orders the venue sends (ccxt_stops) and rests exits on.
NATIVE_STOP_EXCHANGES = frozenset({"binance", "kraken"})
NATIVE_OCO_EXCHANGES = frozenset({"binance"})  # Kraken spot has no OCO
CID_PARAM = {
    "binance": "newClientOrderId", "okx": "clOrdId", "bybit": "orderLinkId",
    "coinbase": "client_order_id",
}  # fmt: skip
QUERY_PARAM = {"binance": "origClientOrderId", "okx": "clOrdId", "bybit": "orderLinkId"}

# Request weights (Binance spot figures; a fair guide elsewhere).
WEIGHTS: dict[str, float] = {
    "load_markets": 20,
    "submit": 1,
    "cancel": 1,
    "fetch_order": 4,
    "fetch_open_orders": 6,
    "fetch_open_orders_all": 80,
    "fetch_fills": 20,
    "fetch_order_fills": 5,  # the trades of one order (myTrades with orderId)
    "fetch_balances": 20,
    "fetch_ticker": 2,
    "fetch_bids_asks": 4,
    "fetch_ohlcv": 2,
    "fetch_order_book": 5,
    "fetch_trades": 25,
    "api_restrictions": 1,
}

# Exchanges that weigh an open-orders list for one symbol less than the account-wide one
# (elsewhere one symbol's list is the account's, filtered by ccxt).
PER_SYMBOL_OPEN_ORDERS = frozenset({"binance", "binanceus"})

# Exchanges whose trade history pages forward by trade id (`fromId`), with the most rows a read
# returns: a read from a point in time stops at a page, so the rest is read page by page.
FILL_PAGE_FROM_ID: dict[str, int] = {"binance": 1000, "binanceus": 1000}
# More of one asset than any account holds (no token's supply comes near): a venue's figure
# beyond it is a broken answer, never a balance.
MAX_BALANCE = Decimal("1e18")

_DEFINITIVE: tuple[tuple[type[Exception], str], ...] = (
    (ccxt.InsufficientFunds, "INSUFFICIENT_FUNDS"),
    (ccxt.OrderNotFound, "ORDER_NOT_FOUND"),
    (ccxt.InvalidOrder, "INVALID_ORDER"),
    (ccxt.PermissionDenied, "PERMISSION_DENIED"),
    (ccxt.AuthenticationError, "AUTHENTICATION"),
    (ccxt.BadSymbol, "BAD_SYMBOL"),
    (ccxt.BadRequest, "BAD_REQUEST"),
)
_AMBIGUOUS: tuple[tuple[type[Exception], str], ...] = (
    (ccxt.RequestTimeout, "TIMEOUT"),
    (ccxt.OnMaintenance, "MAINTENANCE"),
    (ccxt.ExchangeNotAvailable, "EXCHANGE_NOT_AVAILABLE"),
    (ccxt.RateLimitExceeded, "RATE_LIMITED"),
    (ccxt.DDoSProtection, "RATE_LIMITED"),
    (ccxt.NetworkError, "NETWORK"),
)
CCXT_STATUS = {
    "open": OrderStatus.ACCEPTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def map_ccxt_error(venue: str, op: str, exc: BaseException) -> Exception:
    """Turn a ccxt exception into DefinitiveVenueError or AmbiguousVenueError (text redacted)."""
    text = redact(f"{op} failed: {type(exc).__name__}: {exc}")
    for cls, code in _DEFINITIVE:
        if isinstance(exc, cls):
            return DefinitiveVenueError(venue, text, code)
    for cls, code in _AMBIGUOUS:
        if isinstance(exc, cls):
            return AmbiguousVenueError(venue, text, code)
    # Anything else (an unmapped exchange error, a parse failure) leaves the outcome unknown:
    # the safe reading is "ask the venue", never "it was refused".
    return AmbiguousVenueError(venue, text, "UNKNOWN")


def expiry_reason(filled: Decimal, amount: Decimal, price: Decimal | None) -> str:
    """Say why the venue ended an order unfilled in part: an IOC, FOK or market order ends
    once the book has nothing more within its price (or nothing more at all)."""
    within = f"within the order's price {plain(price)}" if price else "in the book"
    return f"expired by the venue: filled {plain(filled)} of {plain(amount)}; no more {within}"


def num_or_zero(value: Any, field: str) -> Decimal:
    return ZERO if value is None else dec(value, field)


def num_or_none(value: Any, field: str) -> Decimal | None:
    return None if value is None else dec(value, field)


class CcxtConnection(Venue):
    """An exchange account's client through ccxt: requests paced and retried, answers mapped."""

    def __init__(
        self,
        name: str,
        client_factory: ClientFactory,
        clock: Clock,
        *,
        symbols: list[str] | None = None,
        rate_limit_per_minute: int = 6000,
        limiter: RateLimiter | None = None,
        max_rate_limit_retries: int = 3,
        max_backoff_s: float = 30.0,
        ws_backoff_s: float = 0.05,
        ws_backoff_max_s: float = 5.0,
        stream_user_data: bool = True,
        quote_refresh_s: float = 15.0,
        market_orders: str = "protected",
    ) -> None:
        super().__init__(name)
        if rate_limit_per_minute <= 0:
            raise ConfigError(
                f"venue {name}: rate_limit_per_minute={rate_limit_per_minute} must be > 0"
            )
        self.client = own_decimal_context(client_factory())
        options = self.client.options
        # ccxt gives this option to the exchanges whose market buy spends a quote amount.
        self.quote_sized_market_buy = "createMarketBuyOrderRequiresPrice" in options
        options.update(SPOT_OPTIONS)
        create = dict(options.get("createOrder") or {})
        create["quoteOrderQty"] = False
        options["createOrder"] = create
        if market_orders not in ("protected", "market"):
            raise ConfigError(
                f"venue {name}: market_orders={market_orders!r} must be 'protected' or 'market'"
            )
        self.market_orders = market_orders
        # Our limiter paces requests; ccxt's own throttle would only add a second queue.
        self.client.enableRateLimit = False
        self.clock = clock
        self.symbols = list(symbols or [])
        self.limiter = limiter or RateLimiter(rate_limit_per_minute / 6, rate_limit_per_minute / 60)
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_backoff_s = max_backoff_s
        self.ws_backoff_s = ws_backoff_s
        self.ws_backoff_max_s = ws_backoff_max_s
        self.stream_user_data = stream_user_data
        self.quote_refresh_s = quote_refresh_s
        self.exchange_id: str = self.client.id
        # Binance and Kraken spot rest stop / take-profit orders, Binance OCO lists too
        # (venues.ccxt_stops).
        # Where a spot buy's fee is charged: ccxt's feeSide "get" (Binance: the base bought) or
        # its default "quote" (Kraken: the quote spent, as a sell's). A multi-leg strategy sizes
        # each leg so that it never spends more than the leg before it received.
        fee_side = (getattr(self.client, "fees", None) or {}).get("trading", {}).get("feeSide")
        self.buy_fee_in = "received" if fee_side in ("get", "base") else "quote"
        self.native_stops = self.exchange_id in NATIVE_STOP_EXCHANGES
        self.native_oco = self.exchange_id in NATIVE_OCO_EXCHANGES
        self._cid_param = CID_PARAM.get(self.exchange_id, "clientOrderId")
        self._query_param = QUERY_PARAM.get(self.exchange_id, "clientOrderId")
        self.instruments: dict[str, Instrument] = {}
        self.withdrawal_warning: str | None = None
        self.backoffs: list[tuple[str, float]] = []  # (operation, seconds paused) per 429/418
        self.reconnects = 0
        self._cid_by_venue_id: dict[str, str] = {}
        self._open: dict[str, tuple[str, int]] = {}  # cid -> (symbol, created ms), ours, open
        self._mids: dict[str, Decimal] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._failing: set[str] = set()  # user streams between a failure and their next message
        self._closing = False

    async def _check_permissions(self) -> None:
        restrictions = getattr(self.client, "sapi_get_account_apirestrictions", None)
        if restrictions is None or not self.client.apiKey:
            return
        try:
            answer = await self._call("api_restrictions", restrictions)
        except (DefinitiveVenueError, AmbiguousVenueError) as exc:
            log.warning("venue %s: could not read the API key's permissions: %s", self.name, exc)
            return
        warning = check_withdrawal_permission(self.name, answer if isinstance(answer, dict) else {})
        if warning is not None:
            self.withdrawal_warning = warning
            log.warning(warning)

    def _wire_cid(self, client_order_id: str) -> str:
        """The client order id as this exchange is sent it (ours, unless it needs a form)."""
        return client_order_id

    # requests --------------------------------------------------------------------------------
    async def _call(self, op: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        weight = WEIGHTS.get(op, 1)
        for attempt in range(self.max_rate_limit_retries + 1):
            await self.limiter.acquire(weight)
            try:
                # ccxt's precision helpers set Underflow as a trap and half-up rounding on the
                # context they run in: give them a copy, or the node's own arithmetic on this
                # loop rounds differently after the first order (paper and live apart)
                with localcontext():
                    return await fn(*args)
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded, ccxt.InvalidNonce) as exc:
                # A 429/418 is refused before execution, so a retry cannot double an order; so
                # is a nonce not above the key's last (another client of the key was ahead), where
                # the exchange checks nonces per key (Kraken): the retry is signed with a new one.
                if isinstance(exc, ccxt.InvalidNonce) and self.exchange_id not in NONCE_PER_KEY:
                    raise map_ccxt_error(self.name, op, exc) from None
                wait = self._retry_after(exc, attempt)
                self.limiter.pause(wait)
                self.backoffs.append((op, wait))
                why = (
                    "refused for its nonce (another client of the key was ahead); sending it "
                    "again with a new one"
                    if isinstance(exc, ccxt.InvalidNonce)
                    else f"rate-limited ({type(exc).__name__})"
                )
                log.warning(
                    "venue %s: %s %s; pausing requests for %.2f s", self.name, op, why, wait
                )
                if attempt >= self.max_rate_limit_retries or wait > self.max_backoff_s:
                    raise self._gave_up(op, exc, attempt + 1) from None
            except ccxt.BaseError as exc:
                raise map_ccxt_error(self.name, op, exc) from None
            except (ValueError, ArithmeticError) as exc:
                # ccxt could not parse the answer (a number field holding text): what happened
                # is unknown, as for any answer not read
                text = redact(f"{op} failed: the answer could not be read: {exc}")
                raise AmbiguousVenueError(self.name, text, "UNREADABLE") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _gave_up(self, op: str, exc: BaseException, tries: int) -> Exception:
        """The error of a request refused every time it was tried."""
        if not isinstance(exc, ccxt.InvalidNonce):
            return map_ccxt_error(self.name, op, exc)
        return AmbiguousVenueError(
            self.name,
            f"{op} refused for its nonce {tries} times in a row: another client of this API key "
            "keeps signing with higher nonces; give each process its own key",
            "INVALID_NONCE",
        )

    def _retry_after(self, exc: BaseException, attempt: int) -> float:
        headers = getattr(self.client, "last_response_headers", None) or {}
        for key, value in headers.items():
            if str(key).lower() == "retry-after":
                try:
                    return max(float(value), 0.0)
                except ValueError:
                    break
        return min(self.max_backoff_s, 0.5 * (2**attempt))

    # mapping ---------------------------------------------------------------------------------
    @property
    def user_client(self) -> Any:
        """The ccxt client the user streams are watched on (the venue's own, here)."""
        return self.client

    def _report(self, raw: Mapping[str, Any], cid: str = "") -> OrderReport:
        vid = str(raw.get("id") or "")
        # The id we sent wins: a cancel answer carries the cancel request's own client id.
        cid = self._cid_by_venue_id.get(vid) or cid or str(raw.get("clientOrderId") or "")
        if vid and cid:
            self._cid_by_venue_id[vid] = cid
        filled = num_or_zero(raw.get("filled"), "filled")
        status = CCXT_STATUS.get(str(raw.get("status") or "open"), OrderStatus.ACCEPTED)
        if status is OrderStatus.ACCEPTED and filled > 0:
            status = OrderStatus.PARTIALLY_FILLED
        if status.is_terminal:
            self._open.pop(cid, None)
        amount = num_or_zero(raw.get("amount"), "amount")
        price = num_or_none(raw.get("price"), "price")
        reason = ""
        if status is OrderStatus.REJECTED:
            reason = str(raw.get("status") or "")
        elif status is OrderStatus.EXPIRED:
            reason = expiry_reason(filled, amount, price)
        return OrderReport(
            venue=self.name,
            symbol=str(raw.get("symbol") or ""),
            client_order_id=cid,
            venue_order_id=vid,
            status=status,
            filled=filled,
            avg_price=num_or_zero(raw.get("average"), "average"),
            amount=amount,
            reason=reason,
            ts=int(raw.get("lastUpdateTimestamp") or raw.get("timestamp") or 0),
            side=str(raw.get("side") or ""),
            price=price,
        )

    def _fill(self, raw: Mapping[str, Any], cid: str) -> Fill | None:
        trade_id = raw.get("id")
        if trade_id is None or not cid or not raw.get("side") or not raw.get("symbol"):
            return None
        fee = raw.get("fee") or {}
        liquidity = (
            LiquiditySide.MAKER if raw.get("takerOrMaker") == "maker" else LiquiditySide.TAKER
        )
        return Fill(
            venue=self.name,
            symbol=str(raw["symbol"]),
            client_order_id=cid,
            venue_order_id=str(raw.get("order") or ""),
            trade_id=str(trade_id),
            side=Side(str(raw["side"])),
            price=dec(raw["price"], "price"),
            amount=dec(raw["amount"], "amount"),
            fee=num_or_zero(fee.get("cost"), "fee.cost"),
            fee_asset=str(fee.get("currency") or ""),
            liquidity=liquidity,
            ts=int(raw.get("timestamp") or self.clock.now_ms()),
        )

    def _balances(self, raw: Mapping[str, Any], keep_zero: bool = False) -> list[Balance]:
        """The account's balances; a figure that is not a finite amount from 0 to
        MAX_BALANCE refuses the whole answer (AmbiguousVenueError): set as the ledger's, it
        would be booked as an adjustment."""
        free = raw.get("free") or {}
        used = raw.get("used") or {}
        out: list[Balance] = []
        for asset in sorted(set(free) | set(used)):
            b = Balance(
                self.name,
                asset,
                self._balance_figure(asset, "free", free.get(asset)),
                self._balance_figure(asset, "used", used.get(asset)),
            )
            if keep_zero or b.total != 0:
                out.append(b)
        return out

    def _balance_figure(self, asset: str, field: str, value: Any) -> Decimal:
        try:
            figure = ZERO if value is None else venue_amount(value, field)
        except ValueError:
            figure = Decimal("NaN")
        if figure.is_nan() or figure > MAX_BALANCE:
            raise AmbiguousVenueError(
                self.name,
                f"fetch_balances: {asset} {field} {value!r} is not an amount from 0 to "
                f"{MAX_BALANCE:f}; the balances answer is refused",
                "UNREADABLE",
            )
        return figure
