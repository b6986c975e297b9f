"""`tradeguard serve` and `tradeguard token …`: run the API, manage its tokens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console

from tradeguard.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_source_options,
    config_from_args,
    port_number,
    print_hanging,
    ts_text,
    unknown_name,
)
from tradeguard.model.errors import ConfigError


def add_api_parsers(sub: Any) -> None:
    """Register `serve` and `token` on the top-level parser."""
    serve = sub.add_parser(
        "serve",
        help="serve the API and dashboard (intents only from HTTP)",
        epilog="example: tradeguard serve --config examples/paper.toml --port 8000",
    )
    serve.add_argument("--config", help="TOML config file (default: built-in paper config)")
    serve.add_argument("--db", help="database URL (overrides node.database_url)")
    serve.add_argument("--host", help="bind address (default api.host, 127.0.0.1)")
    serve.add_argument("--port", type=port_number, help="port (default api.port, 8000)")
    serve.set_defaults(func=cmd_serve)

    tok = sub.add_parser(
        "token",
        help="API tokens: create, list, revoke, TOTP setup",
        description="API tokens: create, list, revoke, TOTP setup.",
        epilog="example: tradeguard token create --name grafana --role viewer",
    )
    tok_sub = tok.add_subparsers(dest="token_command", required=True)
    create = _token_parser(
        tok_sub, "create", "create a token (printed once, stored hashed)",
        "token create --name grafana --role viewer", cmd_token_create,
    )  # fmt: skip
    create.add_argument("--name", required=True, help="a name to recognise the token by")
    create.add_argument(
        "--role",
        required=True,
        choices=["viewer", "trader", "admin"],
        help="viewer reads, trader also sends intents, admin also kills and resumes",
    )
    _token_parser(tok_sub, "list", "list tokens (never their values)", "token list", cmd_token_list)
    rev = _token_parser(
        tok_sub, "revoke", "revoke a token (a running API refuses it within a second)",
        "token revoke --name grafana", cmd_token_revoke,
    )  # fmt: skip
    rev.add_argument("--name", required=True, help="token name or id")
    totp = _token_parser(
        tok_sub, "totp-setup", "give a token a TOTP second factor (needs TG_MASTER_PASSPHRASE)",
        "token totp-setup --name ops", cmd_token_totp,
    )  # fmt: skip
    totp.add_argument("--name", required=True, help="token name or id")


def _token_parser(
    tok_sub: Any, command: str, help_: str, example: str, func: Any
) -> argparse.ArgumentParser:
    """One `token` subcommand with the database options (`--config`, `--db`, `--json`)."""
    p: argparse.ArgumentParser = tok_sub.add_parser(
        command, help=help_, epilog=f"example: tradeguard {example}"
    )
    add_source_options(p)
    p.set_defaults(func=func)
    return p


def _store(args: argparse.Namespace) -> Any:
    from tradeguard.api.auth import TokenStore
    from tradeguard.storage.db import Database

    config = config_from_args(args)
    db = Database(config.node.database_url)
    db.migrate()
    return TokenStore(db)


def cmd_token_create(args: argparse.Namespace, console: Console) -> int:
    from tradeguard.api.auth import AuthError, Role

    store = _store(args)
    try:
        info, token = store.create(args.name, Role.parse(args.role))
    except AuthError as exc:  # a bad --name: a usage error
        raise ConfigError(str(exc)) from None
    if args.json:
        print(json.dumps({**info.to_json(), "token": token}))
        return EXIT_OK
    console.print(f"Created {info.role.label} token {info.name!r} ({info.id}).")
    console.print("The token is shown once; only its hash is stored:")
    print(token)
    console.print("Send it as `Authorization: Bearer <token>`.")
    return EXIT_OK


def cmd_token_list(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    tokens = _store(args).list()
    if args.json:
        print(json.dumps([t.to_json() for t in tokens], indent=2))
        return EXIT_OK
    t = Table(title=f"API tokens ({len(tokens)})")
    for col in ("id", "name", "role", "totp", "created", "last used", "revoked"):
        t.add_column(col)
    for tok in tokens:
        t.add_row(
            tok.id,
            tok.name,
            tok.role.label,
            "yes" if tok.totp else "no",
            ts_text(tok.created_ts),
            ts_text(tok.last_used_ts),
            "yes" if tok.revoked else "",
        )
    console.print(t)
    return EXIT_OK


def _known_token(store: Any, name: str) -> None:
    """Refuse a token name or id that matches no active token: a usage error naming the known."""
    active = [t for t in store.list() if not t.revoked]
    if not any(name in (t.id, t.name) for t in active):
        hint = "`tradeguard token list` shows them"
        raise unknown_name("token", name, [t.name for t in active], hint)


def cmd_token_revoke(args: argparse.Namespace, console: Console) -> int:
    store = _store(args)
    _known_token(store, args.name)
    info = store.revoke(args.name)
    if args.json:
        print(json.dumps(info.to_json()))
    else:
        console.print(
            f"Revoked token {info.name!r} ({info.id}); a running API refuses it within a second."
        )
    return EXIT_OK


def cmd_token_totp(args: argparse.Namespace, console: Console) -> int:
    from tradeguard.secrets.vault import read_passphrase

    store = _store(args)
    _known_token(store, args.name)  # an unknown name fails before the passphrase prompt
    passphrase = read_passphrase()
    uri = store.setup_totp(args.name, passphrase)
    if args.json:
        print(json.dumps({"name": args.name, "provisioning_uri": uri}))
        return EXIT_OK
    console.print(
        "Add this to your authenticator app (shown once; the secret is stored "
        "encrypted under the master passphrase):"
    )
    print(uri)
    console.print("The API server needs TG_MASTER_PASSPHRASE set to check codes.")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    from tradeguard.logsetup import setup_logging
    from tradeguard.node import TradingNode

    config = config_from_args(args)
    setup_logging(config.node.log_format, config.node.log_level)
    node = TradingNode(config)
    try:
        interrupted = asyncio.run(_serve(node, args.host, args.port, console))
    finally:
        node.close()
    # a Ctrl-C ends it whole, as a SIGTERM does, and says so as every command does: 130
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


async def _serve(node: Any, host: str | None, port: int | None, console: Console) -> bool:
    """Serve until a Ctrl-C or a SIGTERM; return whether a Ctrl-C stopped it."""
    stop, ctrl_c = asyncio.Event(), asyncio.Event()

    def on_ctrl_c() -> None:
        ctrl_c.set()
        stop.set()

    with _signals_to({signal.SIGINT: on_ctrl_c, signal.SIGTERM: stop.set}):
        await _serve_until(node, host, port, console, stop)
    return ctrl_c.is_set()


@contextlib.contextmanager
def _signals_to(handlers: dict[signal.Signals, Callable[[], object]]) -> Iterator[None]:
    """Take `handlers`' signals on the running loop; give them back as they were, however
    serving ends (a start that failed left them on a loop that may run on: a harness's)."""
    loop = asyncio.get_running_loop()
    taken = {}
    for sig, handler in handlers.items():
        before = signal.getsignal(sig)
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, handler)
            taken[sig] = before
    try:
        yield
    finally:
        for sig, before in taken.items():
            loop.remove_signal_handler(sig)  # leaves the default: the one before instead
            if before is not None:
                signal.signal(sig, before)


async def _serve_until(
    node: Any, host: str | None, port: int | None, console: Console, stop: asyncio.Event
) -> None:
    """Start the node and its API; serve until `stop` is set; stop both."""
    from tradeguard.api.server import ApiServer
    from tradeguard.node.duties import KillRunner, OrderChecks, PeriodicReconcile
    from tradeguard.node.valuation_view import save_valuation

    server = ApiServer(node, host, port)  # its TLS files checked before any venue connects
    try:
        await node.start()
    except BaseException:
        await node.stop()  # the venues it connected before failing: sessions, user streams
        raise
    # Held assets no strategy streams (a contract a `pm arb run` left held) are priced by the
    # reference prices: read again on their schedule, as a trading node reads them, not once.
    every, refs = node.config.node.reference_prices_interval_s, node._reference
    marks = (
        asyncio.create_task(refs.run(every), name="reference-prices") if every and refs else None
    )
    try:
        await server.start()
        print_hanging(
            console,
            f"tradeguard API and dashboard on {server.url}/ ({node.mode.value} mode, trading "
            f"state {node.risk.state.value}); orders come only from HTTP. Ctrl-C stops.",
        )
        sys.stdout.flush()
        # serve writes no checkpoint (it runs no strategy and must not move a run's cursor):
        # the valuation `tradeguard status` shows (reference prices' ages) is stored by itself
        every_s, due = node.config.node.checkpoint_interval_s, 0.0
        # reconciled on its schedule, as the live loop does: a halt a failed one set lifts, a
        # kill (a loss limit's flatten) left waiting for a good one runs, not at the next start.
        # Kills (the kill file's, a loss limit's, the API's) queue and run whole in a task; no
        # reconciliation starts while one runs, and one that waits on a venue holds no kill.
        kills = KillRunner(node)
        reconcile = PeriodicReconcile(node, kills, OrderChecks(node))
        node.kill_runner = kills
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            kills.poll()
            kills.step()
            reconcile.step(time.monotonic())
            if time.monotonic() >= due:
                save_valuation(node)
                due = time.monotonic() + every_s
    finally:
        if node.kill_runner is not None:
            node.kill_runner = None
            await reconcile.stop()
            await kills.stop()  # a kill cut short stays stored: the next start finishes it
        if marks is not None:
            marks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await marks
        save_valuation(node)  # the prices as serve left them
        await server.stop()
        await node.stop()
