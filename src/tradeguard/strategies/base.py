"""The strategy interface: market data in, order intents out; a strategy never calls a venue."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from tradeguard.marketdata.live.subscriptions import Subscription
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Candle, Quote, TradeTick
from tradeguard.model.order import OrderIntent
from tradeguard.model.position import Position


class StrategyContext(Protocol):
    """What the node lets a strategy see and do: reads, the clock, and emitting intents.

    Nothing here reaches a venue, the journal or storage; an emitted intent goes through the
    risk engine and the order manager like every other order.
    """

    def now_ms(self) -> int: ...

    def position(self, strategy_id: str, venue: str, symbol: str) -> Position: ...

    def free(self, venue: str, asset: str) -> Decimal: ...

    def equity(self) -> Decimal: ...

    def instrument(self, venue: str, symbol: str) -> Instrument | None: ...

    def instruments(self, venue: str) -> list[Instrument]: ...

    def quote(self, symbol: str, venue: str | None = None) -> Quote | None: ...

    def emit(self, intent: OrderIntent) -> None: ...

    def open_order_count(self, strategy_id: str, symbol: str) -> int: ...


class Strategy:
    """Base class: override the callbacks you need; emit intents through `self.emit`."""

    kind = "base"
    warmup_candles = 0  # candles replayed (with emission off) after a restart to rebuild state
    # Live (sandbox/live modes) market data; replays feed the data file's own bars instead.
    timeframe: str | None = "1m"  # closed candles at this timeframe (None: no candles)
    book_depth = 0  # L2 levels per side for on_book (0: no book)
    wants_trades = False  # public trades for on_trade
    wants_quotes = True  # best bid/ask for on_ticker
    # Params naming files: a relative path is taken from the config file's folder.
    path_params: tuple[str, ...] = ()
    # Set by `save_soon`: a live node stores `state()` at the end of the current step.
    save_due = False

    def __init__(self, strategy_id: str, venue: str, symbol: str, params: dict[str, Any]) -> None:
        self.id = strategy_id
        self.venue = venue
        self.symbol = symbol
        self.params = params
        self.ctx: StrategyContext | None = None
        self.muted = False  # True while warming up: intents are dropped
        # True once `restore` took back every indicator: a resume feeds it no warm-up candles
        self.restored_exactly = False

    # lifecycle -----------------------------------------------------------------------------
    def bind(self, ctx: StrategyContext) -> None:
        self.ctx = ctx

    def on_start(self) -> None:
        """Called once before the first event."""

    def on_candle(self, candle: Candle) -> None:
        """Called for every closed candle of a subscribed symbol."""

    def on_bar(self, interval_s: int, bar: Candle) -> None:
        """Called for every completed bar of a `[[data]] timeframes` entry of the symbol."""

    def on_ticker(self, quote: Quote) -> None:
        """Called for every best bid/ask update."""

    def on_book(self, book: Any) -> None:
        """Called for every order book change."""

    def on_trade(self, trade: TradeTick) -> None:
        """Called for every public trade of a subscribed symbol (when `wants_trades`)."""

    def on_fill(self, fill: Fill) -> None:
        """Called once per execution of one of this strategy's orders."""

    async def on_stopping(self) -> None:
        """Called once when the node stops, before `on_stop`: wait (bounded) for work in flight."""

    def stopping_s(self) -> float:
        """The seconds `on_stopping` may wait for work in flight after a Ctrl-C, beyond the
        node's own bound (node.interrupt): a strategy whose hook bounds itself says by how much."""
        return 0.0

    def on_stop(self) -> None:
        """Called once when the node stops."""

    def state(self) -> dict[str, Any]:
        """Return what must survive a restart beyond positions (stored as JSON)."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `state()` returned before the restart."""

    def save_soon(self) -> None:
        """Ask a live node to store `state()` at the end of this step, not only at the next
        checkpoint: for a change a restart must not lose (a trailing stop's new high). The node
        coalesces the asks (`node.state_save_interval_s`); a replay stores with its commits."""
        self.save_due = True

    # helpers -------------------------------------------------------------------------------
    def emit(self, intent: OrderIntent) -> None:
        if self.muted or self.ctx is None:
            return
        self.ctx.emit(intent)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Return the symbols whose market data this strategy receives (known after on_start)."""
        return (self.symbol,)

    def subscriptions(self) -> list[Subscription]:
        """Return the live streams this strategy needs (from the class attributes by default)."""
        subs = []
        for venue, symbols in self.venue_symbols.items():
            for sym in symbols:
                if self.timeframe:
                    subs.append(
                        Subscription(
                            "candles", venue, sym, self.timeframe, warmup=self.warmup_candles
                        )
                    )
                if self.book_depth:
                    subs.append(Subscription("book", venue, sym, depth=self.book_depth))
                if self.wants_trades:
                    subs.append(Subscription("trades", venue, sym))
                if self.wants_quotes:
                    subs.append(Subscription("quotes", venue, sym))
        return subs

    @property
    def venue_symbols(self) -> dict[str, tuple[str, ...]]:
        """Return the symbols to stream per venue (a strategy spanning venues overrides this)."""
        return {self.venue: self.symbols}

    @property
    def position(self) -> Position:
        assert self.ctx is not None, "strategy is not bound to a node"
        return self.ctx.position(self.id, self.venue, self.symbol)


StrategyFactory = Callable[[str, str, str, dict[str, Any]], Strategy]
_REGISTRY: dict[str, StrategyFactory] = {}
# Kinds whose module is imported only when a config uses them (heavy imports).
_LAZY = {
    "triangular": "tradeguard.strategies.triangular.strategy",
    "token_unlock": "tradeguard.strategies.token_unlock.strategy",
    "cross_venue": "tradeguard.strategies.cross_venue.strategy",
}


def register(kind: str) -> Callable[[type[Strategy]], type[Strategy]]:
    """Register a strategy class under `kind` for the config's `strategies[].kind`."""

    def deco(cls: type[Strategy]) -> type[Strategy]:
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls

    return deco


def create(
    kind: str,
    strategy_id: str,
    venue: str,
    symbol: str,
    params: dict[str, Any],
    base_dir: Path | None = None,
) -> Strategy:
    """Build a strategy of a built-in or user kind, or raise ValueError saying where it looked."""
    from tradeguard.strategies import ma_crossover  # noqa: F401  (registers itself)

    if kind not in _REGISTRY and kind in _LAZY:
        import importlib

        importlib.import_module(_LAZY[kind])
    factory = _REGISTRY.get(kind)
    if factory is None:
        from tradeguard.strategies.loader import StrategyLoadError, load_strategy_class

        try:
            factory = load_strategy_class(kind, base_dir)
        except StrategyLoadError as exc:
            known = sorted({*_REGISTRY, *_LAZY})
            raise ValueError(f"{exc} (built-in kinds: {known})") from None
    from tradeguard.strategies.decimal_context import built_in_own_context

    keys = getattr(factory, "path_params", ())
    params = resolve_path_params(params, keys, base_dir)
    return built_in_own_context(factory, strategy_id, venue, symbol, params)


def resolve_path_params(
    params: dict[str, Any], keys: tuple[str, ...], base_dir: Path | None
) -> dict[str, Any]:
    """Return `params` with each file param in `keys` made absolute and checked to exist.

    A relative path is taken from `base_dir` (the config file's folder), or from the working
    directory for a config built in code.
    """
    out = dict(params)
    for key in keys:
        raw = out.get(key)
        if not isinstance(raw, str) or not raw:
            continue  # the strategy reports a missing or mistyped value itself
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        if not path.is_file():
            where = "the config file's folder" if base_dir else "the working directory"
            raise ValueError(
                f"strategy param {key} = {raw!r}: no file at {path} (a relative path is taken "
                f"from {where}; give a path from there or an absolute one)"
            )
        out[key] = str(path)
    return out
