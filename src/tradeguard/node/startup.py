"""The steps of `TradingNode.start` around reconciliation.

```python
await connect_venues(node)            # venues connected, instruments and order minimums loaded
...                                   # settlement, start-up reconciliation, ledger audit
await before_trading(node, streaming) # held assets priced, cut arbitrage unwound or held
```
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tradeguard.model.enums import TradingMode
from tradeguard.model.errors import ConfigError
from tradeguard.model.events import Event, EventKind
from tradeguard.model.money import STABLECOINS, ZERO
from tradeguard.node.exit_siblings import resume_replacements
from tradeguard.node.interrupted import take_up_interrupted
from tradeguard.node.kill_restart import finish_interrupted_kill
from tradeguard.node.spot_shorts import refuse_spot_shorts
from tradeguard.venues.outcome_paper import OutcomePaperVenue

if TYPE_CHECKING:
    from tradeguard.node.node import TradingNode

log = logging.getLogger("tradeguard.node.node")


async def connect_venues(node: TradingNode) -> None:
    """Load the data venues' markets (a paper venue on a prediction market takes them), then
    connect each trading venue and load its instruments. From here on a kill whose store the
    database refuses halts in memory, says so and cancels all the same (a running node's:
    `KillSwitch.held_errors`)."""
    node.kill_switch.held_errors = (SQLAlchemyError,)
    for venue in node.data_venues.values():
        await venue.load_instruments()  # public: the markets their streams map symbols by
    for vc in node.config.venues:
        data = node.data_venues.get(vc.data_venue or "")
        paper = node.venues.get(vc.name)
        if data is None or not isinstance(paper, OutcomePaperVenue):
            continue
        from tradeguard.venues.pm_public import PublicData  # its HTTP client: only when used

        if isinstance(data, PublicData):
            paper.add_instruments(data.venue_instruments(vc.name), data.fee_rates)
            paper.resolutions = data.fetch_resolutions  # settlement, from public listings
    for venue in node.venues.values():
        await venue.connect()
        check_key(node, venue)
        for inst in (await venue.load_instruments()).values():
            node.market.add_instrument(inst)
            node.portfolio.lot_steps[(inst.venue, inst.symbol)] = inst.amount_step
            node.portfolio.order_minimums[(inst.venue, inst.symbol)] = (
                inst.min_amount,
                inst.min_notional,
            )
        adopt = getattr(venue, "adopt", None)  # venues that recompute ids from the journal
        if adopt is not None:
            for order in [o for o in node.orders.open.values() if o.venue == venue.name]:
                adopt(order)


def check_key(node: TradingNode, venue: Any) -> None:
    """A key that can withdraw funds: a critical venue error (alerted) and, in live mode,
    no start unless the venue's config allows it by name."""
    warning = getattr(venue, "withdrawal_warning", None)
    if not warning:
        return
    node.bus.publish(
        Event(
            EventKind.VENUE_ERROR,
            node.clock.now_ms(),
            {"error": warning, "op": "api_key_permissions"},
            venue=venue.name,
            severity="critical",
        )
    )
    vc = next((v for v in node.config.venues if v.name == venue.name), None)
    if node.mode is TradingMode.LIVE and not (vc is not None and vc.allow_withdrawal_key):
        raise ConfigError(
            f"venue {venue.name}: refusing to trade live with an API key that can withdraw "
            f"funds ({warning}); create a key with trading permission only, or set "
            f"allow_withdrawal_key = true on venue {venue.name} to accept the risk"
        )


async def before_trading(node: TradingNode, streaming: bool) -> None:
    """Price what is held without a mark (bounded wait), then unwind or report arbitrage a
    crash cut."""
    wait_s = node.config.node.reference_prices_timeout_s
    refs = node._reference
    if refs is not None and wait_s > 0 and (streaming or node.data_venues):
        # Before any strategy trades, what is held or paid in fees without a mark is read
        # from a ticker: a fee paid in BNB would count 0, and the first quote of one symbol
        # would meet an equity without the other holdings (a false drawdown halt).
        await refs.refresh_within(wait_s)
    warn_loss_limits(node)
    refuse_spot_shorts(node)  # an older version's spot shorts: named, trading halted
    # A kill sentinel written while the node was down (or not polled before a crash) asked for
    # no more orders: it halts before the start-up unwind sends any.
    await node.poll_kill_sentinel()
    # A kill the node was killed in the middle of (orders left uncancelled, positions left
    # open) is finished before anything else may trade.
    await finish_interrupted_kill(node)
    _replay_cycles(node)  # a record the risk engine was not told of before a kill
    _announce_kept(node)  # a record's event a kill kept off the bus
    await take_up_interrupted(node)  # unwound by the executor, or held and reported
    _book_late(node)  # an order a record gave up on, filled while the node was down
    _take_up_netted(node)  # a merge or netting of a held leg booked, its record not written
    _sync_held(node)
    _cover_held(node)  # what an `arb-unwind` may sell of each held leg, read from its record
    # an exit a crash left cancelled, not yet placed smaller; an overshoot left unclosed
    await resume_replacements(node)


def _replay_cycles(node: TradingNode) -> None:
    """Tell the risk engine what each strategy's newest record realised (`cycle`, committed
    with it), unless it was told already: a kill between the record and the report would lose
    a loss from the streak and the cooldowns; the engine counts a record once."""
    from tradeguard.execution.gateway import RECORD_STATE_KEY

    if not node.strategies:
        return
    # every strategy's newest record in one read (the engine's reports below write none)
    records = dict(node.storage.kv_prefixed(RECORD_STATE_KEY.format("")))
    for strat in node.strategies:
        recorded = records.get(RECORD_STATE_KEY.format(strat.id))
        cycle = recorded.get("cycle") if isinstance(recorded, dict) else None
        if isinstance(recorded, dict) and isinstance(cycle, dict) and cycle:
            symbols, pnl = tuple(cycle["symbols"]), Decimal(str(cycle["pnl"]))
            rid = int(recorded["record_id"])
            node.risk.observe_cycle(strat.id, symbols, pnl, int(cycle["ts"]), rid)


def _announce_kept(node: TradingNode) -> None:
    """Publish, once, the events each strategy's newest record kept (committed with it) that a
    kill stopped before they reached the bus: alerts, the audit log and the dashboard hear of
    that cycle."""
    from tradeguard.execution.outbox import OUTBOX_KEY, announce_outbox

    if not node.strategies:
        return
    # the outboxes left, in one read: a strategy with none has nothing to announce
    left = {key for key, kept in node.storage.kv_prefixed(OUTBOX_KEY.format("")) if kept}
    for strat in node.strategies:
        if OUTBOX_KEY.format(strat.id) not in left:
            continue
        told = announce_outbox(node.storage, strat.id, node.bus.publish)
        if told:
            log.warning(
                "strategy %s: %d event(s) of its last record announced at start (the node "
                "stopped before they were published)",
                strat.id,
                told,
            )


def _sync_held(node: TradingNode) -> None:
    """Shrink the legs strategies hold alone to what the start's reconciliation read of each
    venue (sold by hand while the node was down), once cut attempts are taken up."""
    from tradeguard.execution.reconcile import sync_held

    report = node.reconcile_report
    if report is None or not report.ok:
        return
    deferred = {row.get("venue") for row in report.balances_deferred}
    for name in node.venues:
        if name not in deferred:
            report.held_shrunk += sync_held(node, name)


def _take_up_netted(node: TradingNode) -> None:
    """Hand each strategy settling held legs by their merge or netting (`take_up_netted`) its
    records and its fills: a kill between booking such a sale and writing its record left it
    to this start."""
    from tradeguard.storage.arb_repository import load_arb_executions

    for strat in node.strategies:
        take_up = getattr(strat, "take_up_netted", None)
        if take_up is None:
            continue
        rows = load_arb_executions(node.storage, strategy_id=strat.id)

        def load(since: int, sid: str = strat.id) -> list[Any]:
            return node.storage.load_fills(strategy_id=sid, since_ts=since)

        if told := take_up(rows, load):
            log.warning("strategy %s: %d merge or netting sale(s) of held legs booked before "
                        "the node stopped settled at start", strat.id, told)  # fmt: skip


def _book_late(node: TradingNode) -> None:
    """Have each strategy that books late fills (`take_up_late`, triangular) book into its
    record a fill the start's reconciliation journaled (or a kill left unbooked) for an order
    one of its records gave up on, once."""
    for strat in node.strategies:
        take_up = getattr(strat, "take_up_late", None)
        if take_up is not None:
            take_up()


def _cover_held(node: TradingNode) -> None:
    """Count the legs each arbitrage strategy's held records leave (as the book holds them
    now) as that strategy's cycle holdings, which an `arb-unwind` may sell: read from the
    journal at every start, the same figures the run that recorded them counted."""
    from tradeguard.storage.arb_repository import load_arb_executions

    holdings = node.risk.cycle_holdings
    for strat in node.strategies:
        allowances = getattr(strat, "unwind_allowances", None)
        if allowances is None:
            continue
        rows = load_arb_executions(node.storage, strategy_id=strat.id, limit=None)
        total: dict[tuple[str, str], Decimal] = {}  # covered at once: two legs of one asset
        for venue, asset, amount in allowances(rows):
            total[(venue, asset)] = total.get((venue, asset), ZERO) + amount
        for (venue, asset), amount in total.items():
            holdings.cover(strat.id, venue, asset, amount)


def warn_loss_limits(node: TradingNode) -> None:
    """Warn when a loss limit is below an ordinary day's move of what the account holds."""
    portfolio = node.portfolio
    unit = portfolio.valuation_asset
    values = portfolio.values_of(portfolio.all_balances())
    stable = unit in STABLECOINS
    held = sum(
        (v for a, v in values.items() if a != unit and not (stable and a in STABLECOINS)), ZERO
    )
    node.risk.valuation.refresh(portfolio)
    for warning in node.risk.loss_limit_warnings(portfolio.equity(), held):
        log.warning(warning)
