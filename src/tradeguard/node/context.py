"""The StrategyContext the node hands to strategies."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeguard.execution.gateway import OrderPathGateway
from tradeguard.model.errors import ConfigError
from tradeguard.model.instrument import Instrument
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.model.position import Position
from tradeguard.model.sealed import sealed_intent
from tradeguard.model.signal_keys import strategy_signal_error
from tradeguard.node.pause import PausedCycleRisk, StrategyPauses
from tradeguard.storage.bot_rows import BotRows

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode


def venue_refusal(
    strategy_id: str, venue: str, trading: Iterable[str], data_only: Iterable[str]
) -> str:
    """Why a strategy's legs cannot go to `venue` (not configured, or data only), or ""."""
    names = sorted(trading)
    if venue in set(data_only):  # configured, but reads market data only
        return (
            f"strategies[{strategy_id}]: venue {venue!r} is data_only (market data, no "
            f"orders); trade on a paper venue with data_venue = {venue!r}; venues that "
            f"trade: {names}"
        )
    if venue not in names:
        return (
            f"strategies[{strategy_id}]: venue {venue!r} is not configured; configured "
            f"venues: {names}"
        )
    return ""


class NodeContext:
    """The StrategyContext handed to strategies: reads, an intent queue, execution gateways."""

    def __init__(self, node: TradingNode) -> None:
        self._node = node
        self.queue: list[OrderIntent] = []
        self._gateways: dict[tuple[str, str], OrderPathGateway] = {}
        # Private: a strategy sees its context's public surface only (a test pins it).
        self._pauses = StrategyPauses(node)
        self._paused = self._pauses.ids  # the same set: one membership test per intent

    def now_ms(self) -> int:
        return self._node.clock.now_ms()

    @property
    def trading_mode(self) -> str:
        return self._node.mode.value

    def position(self, strategy_id: str, venue: str, symbol: str) -> Position:
        return self._node.portfolio.position(venue, symbol, strategy_id)

    def free(self, venue: str, asset: str) -> Decimal:
        return self._node.portfolio.book(venue).free(asset)

    def equity(self) -> Decimal:
        return self._node.portfolio.equity()

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self._node.market.instrument(venue, symbol)

    def outcome_token(self, venue: str, symbol: str) -> str | None:
        """Return the token id a Polymarket venue lists for an outcome symbol (a paper venue's:
        its data venue's), None when the venue does not say."""
        node = self._node
        found: object = node.venues.get(venue)
        if not hasattr(found, "token_id"):
            vc = next((v for v in node.config.venues if v.name == venue), None)
            found = node.data_venues.get(vc.data_venue) if vc and vc.data_venue else None
        token_id = getattr(found, "token_id", None)
        return token_id(symbol) if callable(token_id) else None

    def instruments(self, venue: str) -> list[Instrument]:
        return [i for (v, _), i in self._node.market.instruments.items() if v == venue]

    def quote(self, symbol: str, venue: str | None = None) -> Quote | None:
        return self._node.market.quote(symbol, venue)

    def emit(self, intent: OrderIntent) -> None:
        if not isinstance(intent, OrderIntent):
            raise TypeError(f"emit() takes an OrderIntent, got {type(intent).__name__}")
        intent = sealed_intent(intent)  # what is checked here is what is sent
        reserved = strategy_signal_error(intent.signal)  # the node's keys, the API's source
        if reserved is not None:
            raise ValueError(f"strategy {intent.strategy_id!r}: emit() refused: {reserved}")
        if (
            intent.strategy_id in self._paused
            and self._pauses.refuses(intent, self.queue) is not None
        ):
            return
        self.queue.append(intent)

    def open_order_count(self, strategy_id: str, symbol: str) -> int:
        return self._node.orders.open_order_count(strategy_id, symbol)

    def execution_gateway(self, strategy_id: str, venue: str) -> OrderPathGateway:
        """Lend a multi-leg strategy one venue's order path (one gateway per strategy/venue)."""
        gateway = self._gateways.get((strategy_id, venue))
        if gateway is None:
            node = self._node
            if strategy_id in node.bot_strategies:
                # a gateway's legs book no positions (the strategy's trades are its cycles), so
                # the bot's one position, loss and losing-streak checks could never see them
                from tradeguard.node.bot_strategy import gateway_refusal

                raise ConfigError(gateway_refusal(strategy_id))
            why = venue_refusal(strategy_id, venue, node.venues, node.data_venues)
            if why:
                raise ConfigError(why)
            kind = "paper" if venue in node._paper else "ccxt"
            fee_in = getattr(node.venues[venue], "buy_fee_in", "quote")  # the paper venue's
            risk = PausedCycleRisk(node.risk, self._pauses, strategy_id)
            # the same gate as the strategy's intents: a bot's, for an id that names a bot
            gateway = OrderPathGateway(
                node.orders, risk, venue, strategy_id, venue_kind=kind,
                submit=node.submit_strategy_intent, buy_fee_in=fee_in,
                on_record=node.note_arb_cycle, on_settled=node.note_arb_settlement,
                on_amended=node.recount_arb_cycles,
                market_data=node.ensure_market_data,
            )  # fmt: skip
            self._gateways[(strategy_id, venue)] = gateway
            own = any(s.id == strategy_id for s in node.config.strategies)
            if not own and any(b.name == strategy_id for b in BotRows(node.db).bots()):
                # lent under a signal bot's name: the bot's fills stay its positions (its one
                # position per symbol, limits, exits and closes read them), not balance-only legs
                node.orders.balance_only.discard(strategy_id)
        return gateway


class OwnContext(NodeContext):
    """One strategy's view of the node's context: the same queue, gateways and pauses, but its
    intents and gateways held to its own id (`node.order_owner.foreign_strategy_refusal`): an
    entry under another strategy's id is denied `STRATEGY_ORDER_ROUTE` (audited, nothing
    queued), a reduce_only close passes, and no gateway is lent under such an id."""

    def __init__(self, shared: NodeContext, owner: str) -> None:  # shares, not a new one
        self._node = shared._node
        self.queue = shared.queue
        self._gateways = shared._gateways
        self._pauses = shared._pauses
        self._paused = shared._paused
        self._owner = owner

    def emit(self, intent: OrderIntent) -> None:
        if isinstance(intent, OrderIntent) and intent.strategy_id != self._owner:
            from tradeguard.node.order_owner import foreign_strategy_refusal

            why = foreign_strategy_refusal(self._node, self._owner, intent)
            if why is not None:
                self._node.orders.refuse(intent, *why)
                self._node.stats.denied += 1
                return
        super().emit(intent)

    def execution_gateway(self, strategy_id: str, venue: str) -> OrderPathGateway:
        if strategy_id != self._owner:
            from tradeguard.node.order_owner import STRATEGY_ORDER_ROUTE, node_strategy_ids

            if strategy_id in node_strategy_ids(self._node):
                raise ConfigError(
                    f"strategies[{self._owner}]: no execution gateway under strategy id "
                    f"{strategy_id!r}, another strategy of this node ({STRATEGY_ORDER_ROUTE}): "
                    f"its legs would count in that strategy's cycles and P&L; ask for "
                    f"ctx.execution_gateway({self._owner!r}, {venue!r})"
                )
        return super().execution_gateway(strategy_id, venue)
