"""The safety service for bots: registry, validate (with confirmation ids), execute, exits.

```python
desk = BotDesk.for_node(node)
desk.validate("alpha", {"symbol": "BTC/USDT", "side": "buy", "score": "0.8"})
await desk.execute("alpha", {"symbol": "BTC/USDT", "side": "buy", "confirmation_id": "cf_..."})
```

Bots trade as strategy id = bot name, so the journal, positions and risk engine see them as any
strategy; their own limits are checked first (`bots.gate`), then the risk engine's.
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tradeguard.api import bot_views
from tradeguard.bots.analytics import ScoredTrade, bot_stats
from tradeguard.bots.config_apply import STOPPED_KEY
from tradeguard.bots.confirm import agreeing, refusal
from tradeguard.bots.exits import ExitPlan
from tradeguard.bots.gate import BotBook, TradeAsk, Verdict, check_trade
from tradeguard.bots.spec import BotError, BotSpec, UnknownBot
from tradeguard.bots.telling import set_outcome
from tradeguard.config import bot_name_clash
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.money import ZERO, plain
from tradeguard.model.order import Order, OrderIntent
from tradeguard.node.bot_book import STREAK_KEY, bot_book, closed_positions, quote_usd
from tradeguard.node.bot_close_rates import at_current_price, in_usd
from tradeguard.node.bot_trades import SENDING, outcome, settle_sending, settled
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.repository import Storage

if TYPE_CHECKING:
    from tradeguard.node import TradingNode

_desks: weakref.WeakKeyDictionary[TradingNode, BotDesk] = weakref.WeakKeyDictionary()


def _side(value: Any) -> Side:
    try:
        return Side(str(value).lower())
    except ValueError:
        raise BotError(f"side={value!r} must be buy or sell") from None


def _score(doc: dict[str, Any]) -> Decimal | None:
    raw = doc.get("score", doc.get("temperature"))
    if raw is None:
        return None
    if isinstance(raw, bool | float) or not isinstance(raw, str | int):
        raise BotError(f'score={raw!r} must be a decimal string such as "0.82"')
    try:
        d = Decimal(str(raw))
    except InvalidOperation:
        raise BotError(f"score={raw!r} is not a decimal number") from None
    if not d.is_finite() or abs(d) > 1_000_000:
        raise BotError(f"score={raw} must be a finite number within +-1000000")
    return d


VOIDED_BY = "the bot's disable or emergency stop"
# A trade that closes the bot's position sells (or buys back) what it holds, whatever the score.
CENT = Decimal("0.01")
CLOSING = "closes the position: its whole closable amount, not sized by score"


class BotDesk:
    """One node's bots: their registry, confirmations, trades, exits and figures."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self.rows = BotRows(node.db)
        self.exits = node.bot_exits
        # trade ids of the executes holding an idempotency key in this process (api.bot_replay)
        self.claims: set[str] = set()
        self._settle_sending()

    def _settle_sending(self) -> None:
        """Settle the trades a stopped node left `sending` (`node.bot_trades`)."""
        settle_sending(self.node)

    @classmethod
    def for_node(cls, node: TradingNode) -> BotDesk:
        """Return the node's desk, building it (and loading stored exits) once."""
        desk = _desks.get(node)
        if desk is None:
            desk = _desks[node] = cls(node)
        return desk

    # registry ----------------------------------------------------------------------------------
    def registry(self) -> dict[str, tuple[BotSpec, bool]]:
        """Return every bot as name -> (spec, enabled); read fresh so CLI edits count at once."""
        return {r.name: (BotSpec.parse(r.name, r.spec), r.enabled) for r in self.rows.bots()}

    def bot(self, name: str) -> tuple[BotSpec, bool]:
        """Return one bot, or raise BotError naming the known ones."""
        known = self.registry()
        if name not in known:
            raise UnknownBot(f"unknown bot {name!r}; known: {sorted(known) or 'none'}")
        node = self.node
        if name not in node.bot_strategies and any(s.id == name for s in node.strategies):
            # registered beside this running node (`bot add` with another config or --db)
            raise BotError(f"bot {name!r} is refused: {bot_name_clash(name)}")
        return known[name]

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a bot; enabling also restarts its losing-streak count."""
        spec, _ = self.bot(name)
        now = self.node.clock.now_ms()
        self.rows.save_bot(name, enabled, spec.to_doc(), now)
        if not enabled:  # an approval from before the stop does not outlive it
            self.rows.void_confirmations(name, now, VOIDED_BY)
        if enabled:
            self.node.storage.kv_set(STREAK_KEY + name, {"ts": now})
            Storage(self.node.db).kv_delete(STOPPED_KEY + name)

    # figures -----------------------------------------------------------------------------------
    def closed(self, bot: str) -> list[dict[str, Any]]:
        """Return the bot's closed positions from the journal, newest first (1000 at most)."""
        return closed_positions(self.node, bot)

    def book(self, spec: BotSpec, symbol: str) -> BotBook:
        """Return the bot's figures the gate reads (`node.bot_book`)."""
        return bot_book(self.node, spec, symbol)

    def stats(self, bot: str) -> dict[str, Any]:
        """Return the bot's win rate, P&L, expectancy and accuracy by score bucket (USD)."""
        trades = sorted(self.rows.trades(bot, limit=5000), key=lambda t: t["created_ts"])
        scored = []
        closed = in_usd(self.node, self.closed(bot))  # ETH/BTC's P&L is BTC: USD at the close
        for row in closed:
            entry_ts = row["entry_ts"]
            opening = [t for t in trades if t["symbol"] == row["symbol"]
                       and t["created_ts"] <= entry_ts and not t.get("reducing")]  # fmt: skip
            score = opening[-1].get("score") if opening else None
            scored.append(ScoredTrade(row["pnl"], Decimal(score) if score is not None else None))
        return {
            "bot": bot,
            **bot_stats(scored),
            "closed_at_current_price": at_current_price(closed),
        }

    # validate and execute ------------------------------------------------------------------------
    def _ask(self, spec: BotSpec, doc: dict[str, Any]) -> tuple[TradeAsk, Decimal | None, str]:
        symbol = str(doc.get("symbol", ""))
        side = _side(doc.get("side"))
        score = _score(doc)
        size, rule = spec.sizing.size_usd(score, spec.max_order_usd)
        if size > spec.max_order_usd:
            size, rule = spec.max_order_usd, f"{rule}, capped at max_order_usd"
        return TradeAsk(symbol, side, size, doc.get("reduce_only") is True), score, rule

    def _risk(self, spec: BotSpec, ask: TradeAsk, verdict: Verdict) -> Decimal | None:
        """Run the risk engine on the sized order; return the amount, or None after a denial."""
        node = self.node
        amount = self._amount(spec, ask, verdict)
        if amount is None:
            return None
        intent = OrderIntent(spec.name, spec.venue, ask.symbol, ask.side, amount, OrderType.MARKET,
                             reduce_only=verdict.reducing)  # fmt: skip
        decision = node.risk.check(intent, node.orders, node.market, dry_run=True)
        if not decision.approved:  # it may name the account's figures: withheld from bots
            verdict.deny_withheld(decision.code, decision.reason)
            return None
        return amount

    def _amount(self, spec: BotSpec, ask: TradeAsk, verdict: Verdict) -> Decimal | None:
        node = self.node
        if verdict.reducing:
            pos = node.portfolio.positions.get((spec.venue, ask.symbol, spec.name))
            amount = abs(node.portfolio.closable(pos)) if pos is not None else ZERO
            if amount == 0 and pos is not None and pos.quantity:
                verdict.deny(
                    "DUST_REMAINDER",
                    f"the remainder {abs(pos.quantity)} of {ask.symbol} is below what one order "
                    f"on {spec.venue} may sell (its minimum amount or notional); nothing to sell",
                )
            return amount or None
        price = node.market.mid(ask.symbol, spec.venue)
        rate = quote_usd(node, ask.symbol)
        if price is None or price <= 0 or not rate:
            verdict.deny(
                "NO_PRICE",
                f"no market price for {ask.symbol} on {spec.venue} yet"
                f"{'' if rate else ' (nor one for its quote in USD)'}; try again shortly",
            )
            return None
        amount = ask.size_usd / (price * rate)  # the size is USD, the price in the quote
        inst = node.market.instrument(spec.venue, ask.symbol)
        if inst is not None:
            amount = inst.round_amount(amount)
        if amount <= 0:
            verdict.deny("BOT_SIZE_ZERO", f"{ask.size_usd} USD buys no {ask.symbol} step")
            return None
        return amount

    def _closing_usd(self, venue: str, ask: TradeAsk, amount: Decimal | None) -> str | None:
        # A close sells the whole position whatever the score: its size is that amount at the
        # mid of the bot's venue (not another venue's), not what the score would have bought
        # (None when nothing would be sold).
        price = self.node.market.mid(ask.symbol, venue)
        rate = quote_usd(self.node, ask.symbol)
        if amount is None or price is None or rate is None:
            return None
        return plain((amount * price * rate).quantize(CENT, ROUND_HALF_UP))

    def validate(self, bot: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Check a trade; when approved (and the bot confirms), hand out a confirmation id."""
        spec, enabled = self.bot(bot)
        ask, score, rule = self._ask(spec, doc)
        now = self.node.clock.now_ms()
        verdict = check_trade(spec, enabled, ask, self.book(spec, ask.symbol), now)
        rule = CLOSING if verdict.reducing else rule
        amount = self._risk(spec, ask, verdict) if verdict.approved else None
        size = (
            self._closing_usd(spec.venue, ask, amount) if verdict.reducing else plain(ask.size_usd)
        )
        out: dict[str, Any] = {
            "approved": verdict.approved, "bot_id": bot, "symbol": ask.symbol,
            "side": ask.side.value, "score": None if score is None else plain(score),
            "size_usd": size, "size_rule": rule, "reasons": verdict.reasons,
            "codes": verdict.codes, "reducing": verdict.reducing,
            "public_reasons": verdict.public_reasons,
        }  # fmt: skip
        if verdict.approved:
            out["amount"] = None if amount is None else plain(amount)
            conf_id = "cf_" + secrets.token_hex(8)
            expires = now + spec.confirmation_ttl_s * 1000
            self.rows.add_confirmation(
                conf_id, bot, {"symbol": ask.symbol, "side": ask.side.value,
                               "score": out["score"], "size_usd": out["size_usd"]},
                now, expires,
            )  # fmt: skip
            out.update(confirmation_id=conf_id, expires_ts=expires)
            window = self.rows.confirmations_since(bot, now - spec.confirmation_window_s * 1000)
            out["agreeing_signals"] = agreeing(window, ask.symbol, ask.side.value)
            out["signals_needed"] = spec.confirmations_needed
        return out

    def _spent_reason(self, conf: dict[str, Any], conf_id: str) -> str:
        return (
            f"confirmation {conf_id!r} was already used"
            f"{self._used_by(conf['bot'], conf_id, conf['used_ts'])}; validate the "
            "trade again for another one"
        )

    def _spent(self, spec: BotSpec, doc: dict[str, Any]) -> tuple[str, str, list[str]] | None:
        """Answer a retry whose confirmation this bot already redeemed with the trade it made,
        whatever the bot's checks say now: a retried entry meets its own position and cooldown,
        and `BOT_ONE_POSITION` would name no trade to read the outcome from."""
        conf_id = str(doc.get("confirmation_id") or "")
        if not spec.require_confirmation or not conf_id:
            return None
        conf = self.rows.confirmation(conf_id)
        if conf is None or conf["bot"] != spec.name or conf.get("used_ts") is None:
            return None  # another bot's id: its refusal names nothing of that bot's
        return "CONFIRMATION_REFUSED", self._spent_reason(conf, conf_id), [conf_id]

    def _answer(
        self, spec: BotSpec, ask: TradeAsk, doc: dict[str, Any], now: int, verdict: Verdict
    ) -> tuple[str, str, list[str], str | None]:
        """The confirmation's answer when the bot's checks approve; else a retry's (its
        confirmation already redeemed: the trade it made), else the checks' own."""
        if verdict.approved:
            return self._confirmed(spec, ask, doc, now, verdict.reducing)
        spent = self._spent(spec, doc)
        if spent is not None:
            return (*spent, None)
        return verdict.codes[0], "; ".join(verdict.reasons), [], None

    def _confirmed(
        self, spec: BotSpec, ask: TradeAsk, doc: dict[str, Any], now: int, reducing: bool
    ) -> tuple[str, str, list[str], str | None]:
        """Check and redeem the confirmation; return (code, reason, ids, what the bot reads of
        the reason: None, all of it) with code "" when ok.

        An entry must be the size validated; a reducing trade closes the whole position, so its
        size in USD does not count."""
        if not spec.require_confirmation:
            return "", "", [], None
        conf_id = str(doc.get("confirmation_id") or "")
        if not conf_id:
            return "CONFIRMATION_REQUIRED", (
                f"bot {spec.name} needs a confirmation_id from POST "
                "/api/v1/safety/validate-trade before execute"
            ), [], None  # fmt: skip
        conf = self.rows.confirmation(conf_id)
        why = refusal(conf, conf_id, spec.name, ask.symbol,
                      ask.side.value, None if reducing else ask.size_usd, now)  # fmt: skip
        if why is not None:
            if conf is not None and conf.get("used_ts") is not None:
                why = self._spent_reason(conf, conf_id)
            # another bot's confirmation: its bot, side and symbol are not this bot's to read
            foreign = conf is not None and conf["bot"] != spec.name
            public = refusal(None, conf_id, spec.name, "", "", None, now) if foreign else None
            return "CONFIRMATION_REFUSED", why, [conf_id], public
        window = self.rows.confirmations_since(spec.name, now - spec.confirmation_window_s * 1000)
        agree = [c for c in window if c["symbol"] == ask.symbol and c["side"] == ask.side.value]
        if len(agree) < spec.confirmations_needed:
            return "SIGNALS_NEEDED", (
                f"bot {spec.name}: {len(agree)} agreeing signal(s) in the last "
                f"{spec.confirmation_window_s} s, confirmations_needed={spec.confirmations_needed}"
            ), [conf_id], None  # fmt: skip
        if not self.rows.redeem_confirmation(conf_id, now):
            used = f"confirmation {conf_id!r} was already used"
            return "CONFIRMATION_REFUSED", used, [conf_id], None
        return "", "", [c["id"] for c in agree], None

    def _used_by(self, bot: str, conf_id: str, used_ts: int) -> str:
        """Name the trade that redeemed a confirmation (stored with the redeeming `now`), so a
        client retrying an execute that timed out learns what the first one did."""
        for t in self.rows.trades(bot, limit=500):
            if t["created_ts"] == used_ts and conf_id in (t.get("confirmations") or ()):
                tid = t["trade_id"]
                return f" by trade {tid} ({t['status']}: GET /api/v1/trades/status/{tid})"
        return " (no trade is recorded with it yet: one still being sent, or a node stopped first)"

    async def execute(
        self, bot: str, doc: dict[str, Any], by: str, trade_id: str | None = None
    ) -> dict[str, Any]:
        """Redeem the confirmation, size the order, send it down the order path, record it."""
        spec, enabled = self.bot(bot)
        ask, score, rule = self._ask(spec, doc)
        node = self.node
        now = node.clock.now_ms()
        trade_id = trade_id or new_trade_id()
        record: dict[str, Any] = {
            "side": ask.side.value, "venue": spec.venue, "score": None if score is None
            else plain(score), "size_usd": plain(ask.size_usd), "size_rule": rule, "by": by,
            "signal": doc.get("signal") if isinstance(doc.get("signal"), dict) else {},
        }  # fmt: skip
        verdict = check_trade(spec, enabled, ask, self.book(spec, ask.symbol), now)
        if verdict.reducing:
            record["size_rule"] = CLOSING
        plan = None if verdict.reducing else ExitPlan.parse(bot, spec.venue, ask.symbol, doc, None)
        code, reason, confs, told = self._answer(spec, ask, doc, now, verdict)
        record.update(confirmations=confs, reducing=verdict.reducing)
        amount = self._amount(spec, ask, verdict) if not code else None
        if amount is None and not code:
            code, reason = verdict.codes[0], "; ".join(verdict.reasons)
        lifted = amount is not None and verdict.reducing
        if lifted:
            code, reason, amount = await self._lift(spec, enabled, ask, now)
            lifted = amount is not None
        if verdict.reducing:
            record["size_usd"] = self._closing_usd(spec.venue, ask, amount)
        coid, status = None, "denied"
        public: str | None = told or reason  # the bot's own checks: they name its figures only
        if plan is not None:
            record["exits"] = plan.rules_json()
        if amount is not None:
            intent = OrderIntent(
                bot, spec.venue, ask.symbol, ask.side, amount, OrderType.MARKET,
                reduce_only=verdict.reducing, signal={**record["signal"], "score": record["score"],
                                                      "bot_trade": trade_id},
                tag="bot",
            )  # fmt: skip
            record["amount"] = plain(amount)
            before = self.exits.plans.get(plan.key) if plan is not None else None
            stored: list[str] = []

            def keep(order: Order) -> None:
                # Stored before the venue hears of the order: a node killed during the venue
                # call comes back with the trade recorded and the entry's exits enforced.
                self.rows.save_trade(trade_id, bot, ask.symbol, SENDING,
                                     order.client_order_id, {**record, "code": "OK",
                                                             "reason": ""}, now)  # fmt: skip
                stored.append(order.client_order_id)
                if plan is not None:
                    plan.entry_order = order.client_order_id
                    self.exits.add(plan)
                elif lifted:
                    self.exits.close_sent(spec.venue, ask.symbol, bot, order.client_order_id)

            try:
                result = await node.submit(intent, keep)
            except BaseException as exc:
                if stored:
                    self._unsent(trade_id, bot, ask.symbol, stored[0], record, now, exc)
                    if plan is not None and stored[0] not in node.orders.orders:
                        self._drop_plan(plan, before)
                raise
            finally:
                if lifted:  # a close refused or failed: the position gets its exits back
                    self.exits.settle(spec.venue, ask.symbol, bot)
            status, code, reason = outcome(result)
            public = None  # the order path's answer (risk engine, venue): withheld from bots
            if result.order is not None:
                coid = result.order.client_order_id
            if not result.ok and plan is not None and plan.entry_order is not None:
                self._drop_plan(plan, before)
        set_outcome(record, code or "OK", reason, public)
        self.rows.save_trade(trade_id, bot, ask.symbol, status, coid, record, now)
        return {"trade_id": trade_id, "status": status, "client_order_id": coid, **record}

    async def _lift(
        self, spec: BotSpec, enabled: bool, ask: TradeAsk, now: int
    ) -> tuple[str, str, Decimal | None]:
        """Before a bot's own close: cancel the position's exits resting on the venue, then
        check the close again, since the wait may have let another close start or an exit fill.
        Return (code, reason, amount to sell); the amount is None when the close is not sent."""
        try:
            lifted = await self.exits.lift(spec.venue, ask.symbol, spec.name)
            if lifted and not await self.exits.clear_closes(spec.venue, ask.symbol, spec.name):
                self.exits.settle(spec.venue, ask.symbol, spec.name)  # the venue exits come back
                lifted = False
        except BaseException:  # the request cancelled (the client went away): nothing is sold
            self.exits.settle(spec.venue, ask.symbol, spec.name)
            raise
        if not lifted:
            return "BOT_EXITS_RESTING", (
                f"bot {spec.name}: the exit orders resting on {spec.venue} for {ask.symbol} "
                "are being changed or could not be cancelled; the close is not sent, try again"
            ), None  # fmt: skip
        verdict = check_trade(spec, enabled, ask, self.book(spec, ask.symbol), now)
        if not verdict.reducing:  # the first reason: a disabled bot's would say "disabled"
            gone = f"bot {spec.name}: the position on {ask.symbol} closed while its exit orders "
            why = gone + "were cancelled"
            verdict.denials.insert(0, ("BOT_POSITION_CLOSED", why, why))
        amount = self._amount(spec, ask, verdict) if verdict.approved else None
        if amount is None:
            self.exits.settle(spec.venue, ask.symbol, spec.name)
            return verdict.codes[0], "; ".join(verdict.reasons), None
        return "", "", amount

    def _unsent(
        self, trade_id: str, bot: str, symbol: str, coid: str, record: dict[str, Any], now: int,
        exc: BaseException,
    ) -> None:  # fmt: skip
        """Settle a trade whose send raised: `not_sent` when its order never reached the
        journal. A cancelled request's (the client went away) is settled either way, as a
        restart would: left `sending`, its idempotency key would answer 409 until then."""
        order = self.node.orders.orders.get(coid)
        cancelled = isinstance(exc, asyncio.CancelledError)
        if order is not None and not cancelled:
            return
        doc = dict(record)
        why = "the request was cancelled before the order was journaled" if cancelled else ""
        status = settled(order, doc, why)
        if not cancelled:  # an error's text may name anything: withheld from bots
            set_outcome(doc, str(doc.get("code") or "NOT_SENT"), f"not sent: {exc}")
        self.rows.save_trade(trade_id, bot, symbol, status, coid, doc, now)

    def _drop_plan(self, plan: ExitPlan, before: ExitPlan | None) -> None:
        """An entry the venue refused (or never sent): its plan goes, the position's earlier
        plan comes back."""
        if self.exits.plans.get(plan.key) is not plan:
            return
        if before is not None:
            self.exits.add(before)
        else:
            self.exits.remove(plan.key)

    def trade_status(self, trade_id: str) -> dict[str, Any] | None:
        """Return a stored trade with its order's current status and fills."""
        trade = self.rows.trade(trade_id)
        if trade is None:
            return None
        coid = trade.get("client_order_id")
        if coid:
            node = self.node
            order = node.orders.orders.get(coid) or node.storage.get_order(coid)
            if order is not None:
                trade["order_status"] = order.status.value
                trade["filled"] = plain(order.filled)
                trade["avg_fill_price"] = plain(order.avg_price)
        return trade

    async def stop_bot(self, bot: str, by: str, reason: str = "") -> dict[str, Any]:
        """Disable a bot and cancel its entry orders; its positions, exits and closes stay
        (they only shrink a position: the bot and the user may still close it).

        The stop is stored at once (not with the node's next commit) and outlives restarts: a
        config saying `enabled = true` does not enable the bot again, only an enable by hand.
        """
        self.set_enabled(bot, False)
        stop = {"by": by, "reason": reason, "ts": self.node.clock.now_ms()}
        Storage(self.node.db).kv_set(STOPPED_KEY + bot, stop)
        cancelled: list[str] = []
        kept: list[str] = []
        for order in list(self.node.orders.open.values()):
            if order.strategy_id == bot:
                (kept if order.reduce_only else cancelled).append(order.client_order_id)
                if not order.reduce_only:
                    await self.node.orders.cancel(order.client_order_id)
        return {"bot_id": bot, "enabled": False, "cancelled": cancelled, "closes_kept": kept,
                "by": by}  # fmt: skip

    async def close_positions(self, bot: str, symbol: str | None = None) -> list[dict[str, Any]]:
        """Close the bot's open positions (or the one on `symbol`) with reduce-only orders."""
        self.bot(bot)
        out = []
        for pos in self.node.portfolio.open_positions():
            if pos.strategy_id != bot or (symbol is not None and pos.symbol != symbol):
                continue
            out.append(await self._close_one(bot, pos.venue, pos.symbol))
        return out

    async def _close_one(self, bot: str, venue: str, symbol: str) -> dict[str, Any]:
        """Close one position: exits resting on the venue are lifted first (they hold the coins
        and would sell them a second time) and placed again for what a close refused or partly
        filled leaves, as for the bot's own closing trade."""
        exits, portfolio = self.exits, self.node.portfolio
        try:
            lifted = await exits.lift(venue, symbol, bot)
        except BaseException:  # the request cancelled mid-lift: nothing is sold
            exits.settle(venue, symbol, bot)  # what the venue cancelled is placed again
            raise
        if not lifted:
            return _resting(bot, venue, symbol)
        try:
            if not await exits.clear_closes(venue, symbol, bot):
                return _resting(bot, venue, symbol)
            pos = portfolio.positions.get((venue, symbol, bot))
            amount = abs(portfolio.sellable(pos)) if pos is not None else ZERO
            working = exits.host.closing(venue, symbol, bot)
            if working or amount == 0:  # one close at a time: both would sell the position
                return {
                    "venue": venue, "symbol": symbol, "amount": plain(amount),
                    "status": "denied", "code": "BOT_CLOSE_WORKING" if working
                    else "BOT_POSITION_CLOSED", "client_order_id": None,
                    "reason": f"bot {bot} has an order closing {plain(abs(working))} of "
                    f"{symbol} working; this close is not sent until it is done" if working
                    else f"bot {bot}: the position on {symbol} closed meanwhile",
                }  # fmt: skip
            side = Side.SELL if pos is not None and pos.quantity > 0 else Side.BUY
            intent = OrderIntent(bot, venue, symbol, side, amount, OrderType.MARKET,
                                 reduce_only=True, tag="bot_close",
                                 signal={"exit": "emergency_close"})  # fmt: skip
            result = await self.node.submit(
                intent, lambda o: exits.close_sent(venue, symbol, bot, o.client_order_id)
            )
        finally:
            exits.settle(venue, symbol, bot)  # what the close leaves gets its exits back
        return {
            "venue": venue, "symbol": symbol, "amount": plain(amount),
            "status": result.status, "code": result.code or "OK", "reason": result.reason,
            "client_order_id": result.order.client_order_id if result.order else None,
        }  # fmt: skip

    def summary(self, only: str | None = None) -> dict[str, Any]:
        """Each bot's active trades with live P&L at the current marks (`bot_views.summary`)."""
        return bot_views.summary(self, only)

    def status(self) -> dict[str, Any]:
        """Return the safety status: trading state and each bot's limits, figures and exits."""
        return bot_views.status(self)


def new_trade_id() -> str:
    """Return a fresh bot trade id."""
    return "bt_" + secrets.token_hex(8)


def _resting(bot: str, venue: str, symbol: str) -> dict[str, Any]:
    return {
        "venue": venue, "symbol": symbol, "amount": None, "status": "denied",
        "code": "BOT_EXITS_RESTING", "client_order_id": None,
        "reason": f"bot {bot}: orders closing {symbol} rest on {venue} and could not be "
        "cancelled; the close is not sent, try again",
    }  # fmt: skip
