"""The USD price of a bot's quote when each of its trades closed, so its history stays put.

```python
record_close_rates(node)          # at build: keep the rate of each bot trade that closes
rows = in_usd(node, closed)       # the closed trades' P&L in USD, each at its close's rate
```

A bot's limits and figures are USD; a trade on ETH/BTC realizes BTC. Converted at BTC's price
of today, a trade closed last week would read a different loss every day. The USD price of
one unit of the quote at the close (`quote_usd`) is stored with the close, in the same commit
(kv `bots.close_usd.<bot>`, keyed by venue, symbol and close time, the newest
`KEEP` per bot), and kept in memory (`CloseRates`: read once per bot, changed with each write,
put back if its commit rolls back), so a gate check reads no database for them. A trade closed
before this was stored, or with no price for its quote at that
moment, is converted at the current price and marked so (`usd_at` = "now"); USD-quoted trades
(USDT, USDC, ...) need no rate.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from tradeguard.model.events import Event, EventKind
from tradeguard.node.bot_book import quote_usd
from tradeguard.storage.bot_rows import BotRows

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

RATES_KEY = "bots.close_usd."
KEEP = 1000  # the closed positions a bot's figures read (`closed_positions`)


class CloseRates:
    """Each bot's kept rates (close key -> USD rate), read from storage once per bot and kept in
    step with the writes made here: a write's commit that rolls back puts the rates it replaced
    back (`on_rollback`), so memory says what the database says."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self._by_bot: dict[str, dict[str, Any]] = {}

    def of(self, bot: str) -> dict[str, Any]:
        """`bot`'s rates (not to be changed by the caller)."""
        rates = self._by_bot.get(bot)
        if rates is None:
            stored = self.storage.kv_get(RATES_KEY + bot)
            rates = self._by_bot[bot] = dict(stored) if isinstance(stored, dict) else {}
        return rates

    def put(self, bot: str, key: str, rate: Decimal) -> None:
        """Keep `rate` under `key` for `bot` (the newest `KEEP`), stored in the open commit."""
        before = self.of(bot)
        rates = {**before, key: str(rate)}
        if len(rates) > KEEP:
            newest = sorted(rates, key=lambda k: int(k.rpartition("|")[2]))[-KEEP:]
            rates = {k: rates[k] for k in newest}
        self.storage.kv_set(RATES_KEY + bot, rates)  # with the fill's commit when inside it
        self.storage.on_rollback(partial(self._by_bot.__setitem__, bot, before))
        self._by_bot[bot] = rates


# one per storage: the node's writes and its readers (the gate, the API) share it
_KEPT: WeakKeyDictionary[Any, CloseRates] = WeakKeyDictionary()


def close_rates(node: TradingNode) -> CloseRates:
    """The node's kept close rates."""
    kept = _KEPT.get(node.storage)
    if kept is None:
        kept = _KEPT[node.storage] = CloseRates(node.storage)
    return kept


def close_key(venue: str, symbol: str, ts: int) -> str:
    """The key of a close's rate: the closed position row's venue, symbol and exit time."""
    return f"{venue}|{symbol}|{ts}"


def record_close_rates(node: TradingNode) -> None:
    """Store the quote's USD price at each close of a bot's position in a non-USD quote."""

    def on_closed(event: Event) -> None:
        if event.kind != EventKind.POSITION_CLOSED or not event.strategy_id:
            return
        rate = quote_usd(node, event.symbol)
        if rate is None or rate == 1:  # none known: said as such when read; USD: none needed
            return
        bot = event.strategy_id
        if bot not in node.bot_strategies and not _registered(node, bot):
            return
        close_rates(node).put(bot, close_key(event.venue, event.symbol, event.ts), rate)

    node.bus.subscribe(on_closed, EventKind.POSITION_CLOSED)


def _registered(node: TradingNode, name: str) -> bool:
    """Whether `name` is a bot registered through the API. A strategy of this node that is no
    bot is none (a bot of its name is refused, `BotDesk.bot`): its closes read no bot rows
    inside their fill's commit."""
    if any(s.id == name for s in node.strategies):
        return False
    return name in {r.name for r in BotRows(node.db).bots()}


def in_usd(node: TradingNode, closed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The closed trades with their P&L in USD (an ETH/BTC trade's P&L is BTC): at the quote's
    price when it closed, else at the current one (`usd_at` = "now"); a quote no price
    converts is left as it is (its entries are refused)."""
    rates = close_rates(node)
    out = []
    for row in closed:
        key = close_key(row["venue"], row["symbol"], int(row["exit_ts"] or 0))
        kept = rates.of(row["strategy_id"]).get(key)
        if kept is not None:
            out.append({**row, "pnl": row["pnl"] * Decimal(str(kept)), "usd_at": "close"})
            continue
        rate = quote_usd(node, row["symbol"])
        if rate is None or rate == 1:
            out.append(row)
        else:
            out.append({**row, "pnl": row["pnl"] * rate, "usd_at": "now"})
    return out


def at_current_price(rows: list[dict[str, Any]]) -> int:
    """How many of `in_usd`'s rows were converted at the current price (no rate at close)."""
    return sum(1 for r in rows if r.get("usd_at") == "now")


__all__ = [
    "RATES_KEY",
    "CloseRates",
    "at_current_price",
    "close_key",
    "close_rates",
    "in_usd",
    "record_close_rates",
]
