"""Read commands: `status`, `orders`, `positions`, `balances`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from tradeguard.cli.common import (
    EXIT_OK,
    add_source_options,
    config_from_args,
    figure,
    json_default,
    money,
    open_storage,
    page_title,
    print_hanging,
    print_wide,
    shown,
    ts_text,
    whole_number,
)
from tradeguard.logsetup import printable
from tradeguard.model.money import plain
from tradeguard.model.position import unrealized_pct


def add_view_parsers(sub: Any) -> None:
    """Register the read commands on the top-level parser."""
    for name, func, helptext, example in (
        ("status", cmd_status, "trading state and strategy figures", "tradeguard status"),
        ("orders", cmd_orders, "orders from the journal, newest first",
         "tradeguard orders --limit 20 --open"),
        ("positions", cmd_positions, "open (or all) positions, newest first",
         "tradeguard positions --all"),
        ("balances", cmd_balances, "balances per venue", "tradeguard balances --json"),
    ):  # fmt: skip
        sp = sub.add_parser(name, help=helptext, description=helptext, epilog=f"example: {example}")
        add_source_options(sp)
        sp.set_defaults(func=func)
        if name in ("orders", "positions"):
            sp.add_argument("--limit", type=_positive, default=50, help="rows to show (default 50)")
        if name == "orders":
            sp.add_argument("--open", action="store_true", help="only open orders")
        if name == "positions":
            sp.add_argument("--all", action="store_true", help="include closed positions")
        if name == "status":
            sp.add_argument(
                "--api",
                metavar="URL",
                help="ask this API's /api/v1/health (default: the config's API when enabled)",
            )
        if name == "balances":
            sp.add_argument(
                "--combined",
                action="store_true",
                help="one view across venues: per asset totals, per venue values",
            )


MAX_ROWS = 1_000_000  # a page beyond this is a typo (and beyond what SQLite takes as LIMIT)


_positive = whole_number(1, MAX_ROWS)


def _kill_view(last: Any, follow: Any) -> dict[str, Any] | None:
    from tradeguard.node.kill_follow import of_kill

    if not isinstance(last, dict):
        return None
    if isinstance(follow, list) and follow and of_kill(follow, last):  # not an earlier kill's
        return {**last, "follow_up": follow}
    return last


def _loss_halt(risk: dict[str, Any], by: str) -> dict[str, Any] | None:
    """The stored last loss-limit trip with what it did, and, while the daily loss limit
    refuses a resume, the day from which `tradeguard resume` works."""
    from tradeguard.risk.report import loss_halt_view
    from tradeguard.risk.state import resume_day

    day = resume_day(risk.get("daily_loss_halt_day"), int(time.time() * 1000))
    return loss_halt_view(risk.get("last_loss_halt"), risk.get("last_kill"), by, resume_from=day)


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """Print the trading state and each strategy's figures."""
    from tradeguard.cli.liveness import api_base, fetch_health, heartbeat_view, print_liveness
    from tradeguard.node import FIGURES_KEY, RISK_STATE_KEY, STATS_KEY
    from tradeguard.node.kill_follow import FOLLOW_KEY
    from tradeguard.node.kill_restart import unfinished_reason
    from tradeguard.node.pause import stored_pauses
    from tradeguard.node.valuation_view import VALUATION_KEY

    config = config_from_args(args)
    base = api_base(config, args.api)  # a misspelt --api is a usage error, named first
    storage = open_storage(args, existing=True)
    health = fetch_health(base) if base else None
    risk = storage.kv_get(RISK_STATE_KEY) or {}
    stats = storage.kv_get(STATS_KEY) or {}
    runs = storage.load_run_states()
    pauses = stored_pauses(storage)
    state, by = risk.get("state", "ACTIVE"), str(risk.get("state_by", ""))
    beat = heartbeat_view(storage, config)
    # The reason explains a halt or a reduction; once ACTIVE again it is history, not status.
    reason = (risk.get("state_reason") or risk.get("reason")) if state != "ACTIVE" else None
    out = {
        "trading_state": state,
        "halt_reason": reason or None,
        "stats": stats,
        "figures": storage.kv_get(FIGURES_KEY),
        # each holding's USD rate and its path, what none values, why equity is provisional
        "valuation": storage.kv_get(VALUATION_KEY),
        # the last kill as the node keeps it, with its follow-up as stored at each step
        "kill": _kill_view(risk.get("last_kill"), storage.kv_get(FOLLOW_KEY)),
        "kill_unfinished": unfinished_reason(risk.get("last_kill"), risk.get("last_resume")),
        "loss_halt": _loss_halt(risk, by),
        "strategies": [_run_json(r, state, pauses, beat["state"]) for r in runs],
        "bots": _bots_json(storage),
        "heartbeat": beat,
        "health": health,
    }
    if args.json:
        print(json.dumps(out, indent=2, default=json_default))
        return EXIT_OK
    why = f" ({shown(reason)})" if reason else ""
    print_hanging(console, f"Trading state: [bold]{state}[/]{why}")
    print_liveness(console, out["heartbeat"], health)
    figures = out["figures"]
    if isinstance(figures, dict):
        console.print(
            f"Equity {figure(Decimal(figures['equity']))}  realized P&L "
            f"{figure(Decimal(figures['realized_pnl']))}  max drawdown "
            f"{money(Decimal(figures['max_drawdown_pct']), 3)} %"
        )
    if isinstance(out["valuation"], dict):
        _print_valuation(console, out["valuation"])
    _print_loss_halt(console, out["loss_halt"])
    kill = out["kill"]
    if isinstance(kill, dict) and (cut := out["kill_unfinished"]):
        print_hanging(console, f"[bold red]Kill switch UNFINISHED[/] ({shown(kill.get('reason'))},"
                               f" {ts_text(kill.get('ts'))}): {shown(cut)}")  # fmt: skip
    for follow in kill.get("follow_up") or [] if isinstance(kill, dict) else []:
        _print_follow_up(console, follow)
    t = Table(title=f"Strategies ({len(runs)})")
    for col in ("id", "status", "trades", "won", "lost", "total P&L", "last trade (UTC)"):
        t.add_column(
            col, justify="right" if col in ("trades", "won", "lost", "total P&L") else "left"
        )
    for r, row in zip(runs, out["strategies"], strict=True):
        t.add_row(
            r.strategy_id,
            row["status"],
            str(r.total_trades),
            str(r.winning_trades),
            str(r.losing_trades),
            figure(r.total_pnl),
            ts_text(r.last_trade_ts),
        )
    console.print(t)
    if out["bots"]:
        console.print(_bots_table(out["bots"]))
    return EXIT_OK


def _print_loss_halt(console: Console, view: dict[str, Any] | None) -> None:
    """The loss limit that holds the trading state: which one, in which mode, what it did."""
    if not isinstance(view, dict) or not view.get("holds"):
        return  # none tripped, or resumed since: history, not status
    by = str(view.get("by", "")).removeprefix("breaker:")
    print_hanging(console, f"Loss limit {shown(by)} tripped {ts_text(view.get('ts'))} "
                           f"(risk.on_loss_halt = {shown(view.get('mode'))}): "
                           f"{shown(view.get('did'))}")  # fmt: skip


def _print_valuation(console: Console, val: dict[str, Any]) -> None:
    """Each holding's USD rate and path; a provisional equity and unvalued holdings said."""
    if val.get("provisional"):
        print_hanging(console, f"[bold yellow]Equity PROVISIONAL[/]: {shown(val['provisional'])}")
    unvalued = val.get("unvalued") or []
    if unvalued:
        print_hanging(
            console,
            f"[bold yellow]Unvalued[/] (no USD rate path, counted as nothing): "
            f"{shown(', '.join(unvalued))}",
        )
    for asset, ref in (val.get("reference_prices") or {}).items():
        if isinstance(ref, dict) and ref.get("stale"):
            age = ref.get("age_s")
            read = "at an unknown time" if age is None else f"{float(age) / 3600:.1f} h before"
            print_hanging(
                console,
                f"[bold yellow]Stale price[/]: {shown(asset)} at {shown(str(ref.get('price')))} "
                f"({shown(str(ref.get('market')))}), read {read}; over "
                "node.reference_price_max_age_s",
            )
    rates = val.get("rates") or {}
    if not rates:
        return
    t = Table(title=f"Valuation: {figure(Decimal(val['equity_usd']))} USD "
                    f"({ts_text(val.get('ts'))})")  # fmt: skip
    for col in ("holding", "USD per unit", "path"):
        t.add_column(col, justify="right" if col == "USD per unit" else "left")
    for key, rate in rates.items():
        t.add_row(shown(key), figure(Decimal(rate["usd"])), shown(rate["path"]))
    console.print(t)


def _bots_json(storage: Any) -> list[dict[str, Any]]:
    """Each registered bot (it trades as strategy id = its name) with its open positions."""
    from tradeguard.storage.bot_rows import BotRows

    held: dict[str, list[dict[str, Any]]] = {}
    for p in storage.load_position_rows(status="open"):
        held.setdefault(p["strategy_id"], []).append(
            {"venue": p["venue"], "symbol": p["symbol"], "side": p["side"],
             "quantity": plain(p["quantity"]), "entry_price": plain(p["entry_price"])}
        )  # fmt: skip
    return [
        {"bot_id": b.name, "venue": b.spec.get("venue"), "enabled": b.enabled,
         "open_positions": held.get(b.name, [])}
        for b in BotRows(storage.db).bots()
    ]  # fmt: skip


def _bots_table(bots: list[dict[str, Any]]) -> Table:
    t = Table(title=f"Bots ({len(bots)})")
    for col in ("bot", "venue", "enabled", "open position"):
        t.add_column(col)
    for b in bots:
        held = [
            f"{p['side']} {p['quantity']} {p['symbol']} @ {p['entry_price']}"
            for p in b["open_positions"]
        ]
        on = "yes" if b["enabled"] else "no"
        t.add_row(b["bot_id"], b["venue"], on, "\n".join(held) or "none")
    return t


def _print_follow_up(console: Console, follow: dict[str, Any]) -> None:
    """One line per position the kill follows up: its status, what it waits for, why it ended
    (a position left open says to close it by hand)."""
    line = f"Kill follow-up of {follow.get('position')}: {follow.get('status')}"
    if follow.get("status") == "waiting" and follow.get("waiting"):
        line += f" for {', '.join(map(str, follow['waiting']))}"
    if follow.get("reason"):
        line += f" ({follow['reason']})"
    # a venue's refusal text and symbol are part of it: no control character reaches the
    # terminal, each is shown as its escape, as everywhere else
    console.print(printable(line), markup=False, highlight=False)


def _run_json(
    r: Any, state: str, pauses: dict[str, dict[str, Any]], beat: str = "none"
) -> dict[str, Any]:
    """A strategy's stored figures; its status says `paused` (stored pause) or the trading state
    when that is not ACTIVE, as GET /api/v1/strategies does, and a stored `running` says what
    the heartbeat `beat` says of a live loop that ended (`stopped`, `gone`)."""
    out = {k: (plain(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(r).items()}
    pause = pauses.get(r.strategy_id)
    if pause is not None:
        out["status"] = "paused"
    elif state != "ACTIVE":
        out["status"] = state.lower()
    elif out.get("status") == "running" and beat in ("stopped", "gone"):
        out["status"] = beat
    out["paused"], out["pause"] = pause is not None, pause
    return out


def cmd_orders(args: argparse.Namespace, console: Console) -> int:
    """Print the newest journaled orders."""
    storage = open_storage(args, existing=True)
    orders = storage.load_orders(open_only=args.open, limit=args.limit)
    if args.json:
        print(json.dumps([_order_json(o) for o in orders], indent=2))
        return EXIT_OK
    total = None if args.open else storage.count_orders()
    # Eight columns without box lines, at the terminal's width: a narrow one folds the id and
    # the symbol (the figures are never folded); a pipe gets whole lines. --json has every field.
    t = Table(
        title=page_title("Orders", len(orders), total),
        box=None,
        pad_edge=False,
        header_style="bold underline",
    )
    for col in ("client id", "symbol", "side", "amount", "price", "filled", "status", "updated"):
        right = col in ("amount", "price", "filled")
        fold = col in ("client id", "symbol")
        t.add_column(col, no_wrap=not fold, overflow="fold", justify="right" if right else "left")
    for o in orders:
        t.add_row(
            o.client_order_id,
            shown(o.symbol),
            o.side.value,
            f"{o.amount:f}",
            _price_text(o),
            "all" if o.filled == o.amount else f"{o.filled:f}",
            o.status.value,
            ts_text(o.updated_ts)[5:16],
        )
    print_wide(console, t)
    return EXIT_OK


def _price_text(o: Any) -> str:
    """The limit price; a stop or take-profit without one shows its trigger as `@level`."""
    if o.price is not None:
        return f"{o.price:f}"
    return "market" if o.trigger_price is None else f"@{o.trigger_price:f}"


def _dec_or_none(v: Any) -> str | None:
    return None if v is None else plain(v)


def _order_json(o: Any) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id, "venue_order_id": o.venue_order_id,
        "strategy_id": o.strategy_id, "venue": o.venue, "symbol": o.symbol,
        "side": o.side.value, "type": o.type.value, "amount": plain(o.amount),
        "price": plain(o.price) if o.price is not None else None, "status": o.status.value,
        "filled": plain(o.filled), "avg_price": plain(o.avg_price), "fee": plain(o.fee),
        "reason": o.reason, "signal": o.signal, "created_ts": o.created_ts,
        "updated_ts": o.updated_ts, "time_in_force": o.time_in_force.value,
        "reduce_only": o.reduce_only, "trigger_price": _dec_or_none(o.trigger_price),
        "oco_group": o.oco_group, "stop_loss": _dec_or_none(o.stop_loss),
        "take_profit": _dec_or_none(o.take_profit),
    }  # fmt: skip


def cmd_positions(args: argparse.Namespace, console: Console) -> int:
    """Print open (or all) positions; open ones valued at the node's last stored marks."""
    storage = open_storage(args, existing=True)
    status = None if args.all else "open"
    rows = [valued(r) for r in storage.load_position_rows(status=status, limit=args.limit)]
    if args.json:
        print(json.dumps(rows, indent=2, default=json_default))
        return EXIT_OK
    total = len(storage.load_position_rows(status=status)) if len(rows) == args.limit else None
    name = "Positions, " + ("open and closed" if args.all else "open")
    # Which venue holds each row: in a column when they are several, else in the title.
    on = {r["venue"] for r in rows}
    venues = len(on) > 1
    where = f" on {next(iter(on))}" if len(on) == 1 else ""
    # Without box lines, as `orders`: BTC-quoted prices keep their digits within 80 columns.
    t = Table(title=page_title(name, len(rows), total) + where, box=None, pad_edge=False,
              header_style="bold underline")  # fmt: skip
    price_col = "exit/mark" if args.all else "mark"
    cols = ("venue",) * venues + ("symbol", "side", "status", "qty", "entry", price_col)
    for col in (*cols, "P&L", "P&L %"):
        t.add_column(
            col, no_wrap=True,
            justify="right" if col in ("qty", "entry", price_col, "P&L", "P&L %") else "left",
        )  # fmt: skip
    for r in rows:
        t.add_row(
            *(r["venue"],) * venues,
            shown(r["symbol"]),
            r["side"],
            r["status"],
            f"{r['quantity']:f}" if isinstance(r["quantity"], Decimal) else str(r["quantity"]),
            figure(r["entry_price"]),
            *_price_and_pnl(r),
        )
    console.print(t)
    if any(r["status"] == "open" for r in rows):
        console.print("open positions: P&L unrealised, at the last mark the node stored")
    return EXIT_OK


def valued(row: dict[str, Any]) -> dict[str, Any]:
    """An open position row with `mark` (the node's last stored mark, None without one) and the
    unrealized P&L at it, in quote and in percent of the entry notional. The P&L is worked out
    from the row's current quantity and entry rather than read back, as a row saved without a
    fresh mark keeps the P&L of the size it had then."""
    if row.get("status") != "open":
        return row
    mark = row.get("current_price")
    out = {**row, "mark": mark, "unrealized_pnl": None, "unrealized_pnl_pct": None}
    if mark is not None:
        entry = Decimal(row["entry_price"])
        qty = Decimal(row["quantity"]) * (-1 if row["side"] == "short" else 1)
        pnl = (Decimal(mark) - entry) * qty
        out["unrealized_pnl"] = pnl
        out["unrealized_pnl_pct"] = unrealized_pct(pnl, entry, qty)
    return out


def _price_and_pnl(r: dict[str, Any]) -> tuple[str, str, str]:
    """The exit price and P&L of a closed row; the mark and unrealized P&L of an open one."""
    if r["status"] != "open":
        return figure(r.get("exit_price")), figure(r.get("pnl")), money(r.get("pnl_pct"))
    if r["mark"] is None:
        return "no mark", "-", "-"
    return figure(r["mark"]), figure(r["unrealized_pnl"]), money(r["unrealized_pnl_pct"])


def cmd_balances(args: argparse.Namespace, console: Console) -> int:
    """Print the stored balances per venue."""
    storage = open_storage(args, existing=True)
    if getattr(args, "combined", False):
        return _combined_balances(args, storage, console)
    bals = storage.load_balances()
    if args.json:
        doc = [
            {"venue": b.venue, "asset": b.asset, "free": plain(b.free), "locked": plain(b.locked),
             "total": plain(b.total)}
            for b in bals
        ]  # fmt: skip
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    t = Table(title=f"Balances ({len(bals)})")
    for col in ("venue", "asset", "free", "locked", "total"):
        t.add_column(col, justify="right" if col in ("free", "locked", "total") else "left")
    for b in bals:
        # the asset's name is the venue's: shown escaped, never read as markup
        t.add_row(b.venue, shown(b.asset), f"{b.free:f}", f"{b.locked:f}", f"{b.total:f}")
    console.print(t)
    return EXIT_OK


def _combined_balances(args: argparse.Namespace, storage: Any, console: Console) -> int:
    from tradeguard.cli.common import config_from_args
    from tradeguard.portfolio.combined import combine, holdings_from_rows

    valuation = config_from_args(args).node.valuation_asset
    view = combine(holdings_from_rows(storage.load_balance_rows()), valuation)
    if args.json:
        print(json.dumps(view.to_json(), indent=2))
        return EXIT_OK
    venues = sorted(view.venue_values)
    t = Table(title=f"Balances across {len(venues)} venue(s), valued in {valuation}")
    for col in ("asset", "total", *venues, "value"):
        t.add_column(col, justify="left" if col == "asset" else "right")
    for row in view.to_json()["assets"]:
        parts = [row["venues"].get(v, "") for v in venues]
        t.add_row(shown(row["asset"]), row["total"], *parts, money(row["value"]))
    t.add_row("value", "", *[money(view.venue_values[v]) for v in venues], money(view.total_value))
    console.print(t)
    if view.unpriced:
        unpriced = ", ".join(map(shown, view.unpriced))
        console.print(f"no price for {unpriced}: left out of the values")
    for venue, assets in view.priced_elsewhere.items():
        console.print(
            f"{venue}: {', '.join(map(shown, assets))} valued at another venue's price "
            f"({venue} has none)"
        )
    return EXIT_OK
