"""`tradeguard bot …`: register bots, enable or disable them, give each a bound API token.

These write only the bot and token tables, so they work beside a running node, which reads the
registry on every request.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console

from tradeguard.bots.spec import BotError, BotSpec, check_symbols
from tradeguard.cli.common import EXIT_OK, add_source_options, config_from_args, unknown_name
from tradeguard.config import RUNNING_STRATEGIES_KEY, bot_name_clash
from tradeguard.model.errors import ConfigError

_STREAK_KEY = "bots.streak_reset."


def add_bot_parser(sub: Any) -> None:
    """Register `bot` on the top-level parser."""
    bot = sub.add_parser(
        "bot",
        help="signal bots: add, list, enable, disable, token",
        description="Signal bots: add, list, enable, disable, token.",
        epilog="example: tradeguard bot list --config examples/bots_sandbox.toml",
    )
    bsub = bot.add_subparsers(dest="bot_command", required=True)
    add = bsub.add_parser(
        "add",
        help="register a bot (disabled until `bot enable`)",
        epilog="example: tradeguard bot add alpha --max-order-usd 50 --max-position-usd 100 "
        "--daily-loss-usd 20 --symbols BTC/USDT",
    )
    add.add_argument("name", help="bot id: lowercase letters, digits, - and _")
    # required for a new bot; with --update only what changes is given
    add.add_argument("--max-order-usd", help="largest single order, USD (required when new)")
    add.add_argument(
        "--max-position-usd", help="largest position per symbol, USD (required when new)"
    )
    add.add_argument(
        "--max-total-position-usd",
        help="largest sum of its positions and working entries on every symbol, USD (optional)",
    )
    add.add_argument(
        "--daily-loss-usd",
        help="loss (closed trades, open positions at the mark) that stops its entries today "
        "(required when new)",
    )
    add.add_argument(
        "--weekly-loss-usd",
        help="loss (closed trades, open positions at the mark) that stops its entries until "
        "Monday 00:00 UTC (optional)",
    )
    add.add_argument(
        "--venue", help="venue it trades on (default: the config's only venue, else paper)"
    )
    add.add_argument("--symbols", help="comma-separated symbols it may trade")
    add.add_argument("--cooldown-s", type=int, help="seconds between its trades")
    add.add_argument("--max-losing-streak", type=int, help="losing trades in a row that stop it")
    add.add_argument("--confirmation-ttl-s", type=int, help="how long a confirmation id is valid")
    add.add_argument("--signals", type=int, help="agreeing approvals needed before execute")
    add.add_argument("--window-s", type=int, help="window the agreeing approvals must fall in")
    add.add_argument("--no-confirmation", action="store_true", help="execute without an id")
    add.add_argument("--allow-adding", action="store_true", help="allow a second entry")
    add.add_argument("--sizing", help='JSON size rule, e.g. {"kind": "linear", ...}')
    add.add_argument(
        "--update", action="store_true", help="change an existing bot: only the options given"
    )
    add.set_defaults(func=cmd_bot_add)
    for name, func, text in (
        ("list", cmd_bot_list, "list bots and their limits"),
        ("enable", cmd_bot_enable, "let a bot trade (restarts its losing-streak count)"),
        ("disable", cmd_bot_disable, "stop a bot opening trades"),
        ("token", cmd_bot_token, "create an API token that trades only as this bot"),
    ):
        sp = bsub.add_parser(name, help=text, epilog=f"example: tradeguard bot {name}"
                             + ("" if name == "list" else " alpha"))  # fmt: skip
        if name != "list":
            sp.add_argument("name", help="bot id")
        sp.set_defaults(func=func)
    for sp in (add, *[bsub.choices[n] for n in ("list", "enable", "disable", "token")]):
        add_source_options(sp)


_REQUIRED = ("max_order_usd", "max_position_usd", "daily_loss_usd")


def _rows(args: argparse.Namespace) -> Any:
    from tradeguard.storage.bot_rows import BotRows
    from tradeguard.storage.db import Database

    db = Database(config_from_args(args).node.database_url)
    db.migrate()
    return BotRows(db)


def _spec_doc(
    args: argparse.Namespace, stored: dict[str, Any] | None, venues: list[str]
) -> dict[str, Any]:
    """The bot's fields: the stored ones (an update) or the defaults, then the options given."""
    venue = venues[0] if len(venues) == 1 else "paper"
    doc: dict[str, Any] = dict(stored) if stored else {"venue": venue, "symbols": []}
    if stored is None:
        missing = [f"--{k.replace('_', '-')}" for k in _REQUIRED if getattr(args, k) is None]
        if missing:
            raise BotError(f"bot {args.name!r} is new: {', '.join(missing)} required")
    if args.symbols is not None:
        doc["symbols"] = [s.strip() for s in args.symbols.split(",") if s.strip()]
    optional = {
        **{k: getattr(args, k) for k in _REQUIRED},
        "venue": args.venue,
        "weekly_loss_usd": args.weekly_loss_usd,
        "max_total_position_usd": args.max_total_position_usd,
        "cooldown_s": args.cooldown_s,
        "max_losing_streak": args.max_losing_streak,
        "confirmation_ttl_s": args.confirmation_ttl_s,
        "confirmations_needed": args.signals,
        "confirmation_window_s": args.window_s,
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    if args.no_confirmation:
        doc["require_confirmation"] = False
    if args.allow_adding:
        doc["one_position_per_symbol"] = False
    if args.sizing:
        try:
            doc["sizing"] = json.loads(args.sizing, object_pairs_hook=_keys_once)
        except json.JSONDecodeError as exc:
            raise BotError(f"--sizing is not JSON: {exc.msg} at column {exc.colno}") from None
        except RecursionError:
            raise BotError("--sizing is not JSON: nested deeper than the parser reads") from None
        except ValueError:  # an integer past the digits Python reads
            raise BotError(
                "--sizing is not JSON: a number of more than 4300 digits; give sizes as "
                'decimal strings such as "20"'
            ) from None
    return doc


def _keys_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are named once: of two, the parser kept the last (a size of
    40 USD where the operator read 2), as the API refuses too."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BotError(f"--sizing names {json.dumps(key)} twice: give each key once")
        out[key] = value
    return out


def _refuse_running_strategy(rows: Any, name: str) -> None:
    """Refuse a bot named as a strategy of the node running on this database (its config may
    not be the one given here): the bot would trade as that strategy's id."""
    from tradeguard.storage.lock import writer_lock_held
    from tradeguard.storage.repository import Storage

    running = Storage(rows.db).kv_get(RUNNING_STRATEGIES_KEY)
    if not isinstance(running, dict):
        return
    if writer_lock_held(rows.db.url.render_as_string(hide_password=False)) is False:
        return  # no node runs: what a killed one stored holds no name
    if name in running.get("ids", ()) and name not in running.get("bots", ()):
        raise ConfigError(
            f"a node trading on this database runs a strategy with id {name!r}: "
            + bot_name_clash(name)
        )


def cmd_bot_add(args: argparse.Namespace, console: Console) -> int:
    rows = _rows(args)
    existing = {r.name: r for r in rows.bots()}
    if args.name in existing and not args.update:
        raise BotError(f"bot {args.name!r} exists; add --update to change its limits")
    config = config_from_args(args)
    venues = [v.name for v in config.venues]
    if any(s.id == args.name for s in config.strategies):
        raise ConfigError(bot_name_clash(args.name))
    _refuse_running_strategy(rows, args.name)
    try:
        doc = _spec_doc(args, existing[args.name].spec if args.name in existing else None, venues)
        check_symbols(args.name, doc["symbols"])
        spec = BotSpec.parse(args.name, doc)
    except BotError as exc:  # a bad name or limit on the command line: a usage error
        raise ConfigError(str(exc)) from None
    if spec.venue not in venues:
        raise ConfigError(f"--venue {spec.venue!r} is not a venue of the config; known: {venues}")
    enabled = existing[args.name].enabled if args.name in existing else False
    rows.save_bot(spec.name, enabled, spec.to_doc(), int(time.time() * 1000))
    if args.json:
        print(json.dumps({"bot_id": spec.name, "enabled": enabled, **spec.to_doc()}))
    else:
        state = "enabled" if enabled else "disabled until `tradeguard bot enable " + spec.name + "`"
        console.print(f"Bot {spec.name!r} saved ({state}).")
    return EXIT_OK


def cmd_bot_list(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    bots = _rows(args).bots()
    if args.json:
        print(json.dumps([{"bot_id": b.name, "enabled": b.enabled, **b.spec} for b in bots]))
        return EXIT_OK
    t = Table(title=f"Bots ({len(bots)})")
    for col in ("bot", "on", "order", "position", "day loss", "symbols"):
        t.add_column(col)
    for b in bots:
        s = b.spec
        symbols = ",".join(s["symbols"]) or "any"
        on = "yes" if b.enabled else "no"
        limits = (s["max_order_usd"], s["max_position_usd"], s["daily_loss_usd"])
        t.add_row(b.name, on, *limits, symbols)
    console.print(t)
    return EXIT_OK


def _set(args: argparse.Namespace, console: Console, on: bool) -> int:
    rows = _rows(args)
    bots = {r.name: r for r in rows.bots()}
    found = bots.get(args.name)
    if found is None:
        raise unknown_name("bot", args.name, list(bots), "`tradeguard bot list` shows them")
    now = int(time.time() * 1000)
    rows.save_bot(found.name, on, found.spec, now)
    if not on:  # an approval from before the disable does not outlive it
        rows.void_confirmations(found.name, now, "`tradeguard bot disable`")
    if on:
        from tradeguard.bots.config_apply import STOPPED_KEY
        from tradeguard.storage.repository import Storage

        Storage(rows.db).kv_set(_STREAK_KEY + found.name, {"ts": now})
        Storage(rows.db).kv_delete(STOPPED_KEY + found.name)  # an emergency stop ends here
    if args.json:
        print(json.dumps({"bot_id": found.name, "enabled": on}))
    else:
        console.print(f"Bot {found.name!r} {'enabled' if on else 'disabled'}.")
    return EXIT_OK


def cmd_bot_enable(args: argparse.Namespace, console: Console) -> int:
    return _set(args, console, True)


def cmd_bot_disable(args: argparse.Namespace, console: Console) -> int:
    return _set(args, console, False)


def cmd_bot_token(args: argparse.Namespace, console: Console) -> int:
    from tradeguard.api.auth import Role, TokenStore

    rows = _rows(args)
    names = [r.name for r in rows.bots()]
    if args.name not in names:
        raise unknown_name("bot", args.name, names, "add it first with `tradeguard bot add`")
    info, token = TokenStore(rows.db).create(f"bot-{args.name}", Role.TRADER, bot=args.name)
    if args.json:
        print(json.dumps({**info.to_json(), "token": token}))
        return EXIT_OK
    console.print(f"Created token {info.name!r} ({info.id}) bound to bot {args.name!r}.")
    console.print("The token is shown once; only its hash is stored:")
    print(token)
    return EXIT_OK
