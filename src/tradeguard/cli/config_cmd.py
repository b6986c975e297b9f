"""`tradeguard config check`: validate a config as `run` would, without trading."""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from rich.console import Console

from tradeguard.cli.common import EXIT_OK
from tradeguard.model.errors import ConfigError, TradeguardError


def add_config_parser(sub: Any) -> None:
    """Register `config check` on the top-level parser."""
    cfg = sub.add_parser(
        "config",
        help="configuration tools",
        description="Configuration tools.",
        epilog="example: tradeguard config check examples/paper.toml",
    )
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    chk = cfg_sub.add_parser(
        "check",
        help="validate a config file without running",
        description="Validate a config as `run` does: keys and ranges, every strategy built with "
        "its params, every venue and every data file it names. Nothing trades.",
        epilog="example: tradeguard config check examples/paper.toml",
    )
    chk.add_argument("file", help="TOML config file")
    chk.set_defaults(func=cmd_config_check)


def check_config(config: Any) -> list[str]:
    """Return one line per problem `run` would stop at in the strategies, venues and data."""
    return [
        *_mode_problems(config), *_strategy_problems(config), *_venue_problems(config),
        *_data_problems(config), *_backup_problems(config), *_bot_problems(config),
        *_tls_problems(config),
    ]  # fmt: skip


def _tls_problems(config: Any) -> list[str]:
    """The API's certificate and key files, which the node's API (`run`, `serve`) opens."""
    from tradeguard.apiconfig import checked_tls_files

    try:
        checked_tls_files(config)
    except ConfigError as exc:
        return [str(exc)]
    return []


def _mode_problems(config: Any) -> list[str]:
    """What `run` refuses about the mode and its venues (a real exchange outside live mode, a
    live config with an unlimited risk limit...); `--confirm-live` is the run's to give."""
    from tradeguard.venues.modes import check_mode

    try:
        check_mode(config, confirm_live=True, environ={})
    except ConfigError as exc:
        lines = str(exc).splitlines()
        if len(lines) > 1:  # 'refusing to start in mode = "live":' then one "  - ..." each
            return [f"mode = {config.mode.value!r}: {line.strip()[2:]}" for line in lines[1:]]
        return [_one_line(exc)]
    return []


def _backup_problems(config: Any, env: Any = None) -> list[str]:
    import os

    from tradeguard.secrets.backup_file import PASSPHRASE_ENV

    interval = config.node.backup_interval_s
    if interval and not (os.environ if env is None else env).get(PASSPHRASE_ENV):
        return [
            f"node.backup_interval_s = {interval:g} but {PASSPHRASE_ENV} is not set: the node "
            "would refuse to start trading (it cannot prompt); set it where the node runs, or "
            "node.backup_interval_s = 0"
        ]
    return []


def _bot_problems(config: Any) -> list[str]:
    """A [[bots]] sizing rule `run` would refuse at start (its limits may come from the
    database, so only the rule is judged here)."""
    from tradeguard.bots.sizing import SizeRule, SizingError

    problems = []
    for entry in config.bots:
        if entry.sizing is not None:
            try:
                SizeRule.parse("sizing", entry.sizing)
            except SizingError as exc:
                problems.append(f"bots[{entry.name}]: {_one_line(exc)}")
    return problems


def _strategy_problems(config: Any) -> list[str]:
    from tradeguard.strategies import rehearsal  # noqa: F401  (registers itself)
    from tradeguard.strategies.base import create

    problems = []
    for sc in config.strategies:
        if not sc.enabled:
            continue
        try:
            strat = create(sc.kind, sc.id, sc.venue, sc.symbol, dict(sc.params), config.source_dir)
        except (ValueError, TypeError, ConfigError) as exc:
            problems.append(f"strategies[{sc.id}]: {_one_line(exc)}")
            continue
        if (why := _gateway_refusal(strat, config, sc.bot)) is not None:
            problems.append(why)
        conflicts = getattr(strat, "risk_conflicts", None)
        problems += (
            [f"strategies[{sc.id}]: {c}" for c in conflicts(config.risk)] if conflicts else []
        )
    return problems


def _gateway_refusal(strat: Any, config: Any, bot: bool) -> str | None:
    """The refusal a node gives at start to a strategy whose `bind` (or, for a `bot = true`
    strategy, its `on_start`) borrows an execution gateway (a multi-leg strategy) it may not
    have: any, for a `bot = true` strategy; one of a venue not configured or data only (a
    cross-venue strategy's `params.kalshi_venue`); or what `bind` itself refuses (both venues
    the same). None when nothing is refused. The strategy is bound to a context with no node
    behind it: its reads answer empty (no markets listed, no quote, nothing held), so one that
    reads before it asks still reaches the ask; whatever else it does with what it read is the
    node's start to judge."""
    from decimal import Decimal

    from tradeguard.model.position import Position
    from tradeguard.node.bot_strategy import gateway_refusal
    from tradeguard.node.context import NodeContext, venue_refusal

    data_only = [v.name for v in config.venues if v.data_only]
    trading = [v.name for v in config.venues if not v.data_only]

    class Probe(NodeContext):
        def __init__(self) -> None:  # no node: the reads answer empty, the gateway is noted
            self.asked = False
            self.queue = []

        def now_ms(self) -> int:
            return 0

        @property
        def trading_mode(self) -> str:
            return "paper"

        def position(self, strategy_id: str, venue: str, symbol: str) -> Position:
            return Position(venue, symbol, strategy_id)

        def free(self, venue: str, asset: str) -> Decimal:
            return Decimal(0)

        def equity(self) -> Decimal:
            return Decimal(0)

        def instrument(self, venue: str, symbol: str) -> None:
            return None

        def outcome_token(self, venue: str, symbol: str) -> None:
            return None

        def instruments(self, venue: str) -> list[Any]:
            return []

        def quote(self, symbol: str, venue: str | None = None) -> None:
            return None

        def emit(self, intent: Any) -> None:
            pass  # nothing trades here

        def open_order_count(self, strategy_id: str, symbol: str) -> int:
            return 0

        def execution_gateway(self, strategy_id: str, venue: str) -> Any:
            self.asked = True
            if bot:
                raise ConfigError(gateway_refusal(strategy_id))
            if why := venue_refusal(strategy_id, venue, trading, data_only):
                raise ConfigError(why)
            return _NoGateway()

    probe = Probe()
    try:
        strat.bind(probe)
        if bot:
            strat.on_start()  # the node starts what it bound: an ask there is refused at start too
    except ConfigError as exc:
        if probe.asked or not bot:
            return _one_line(exc)
    except Exception:  # anything but the gateway is the node's start's to judge
        pass
    return gateway_refusal(strat.id) if bot and probe.asked else None


class _NoGateway:
    """What the probe lends for a venue that may trade: nothing a `bind` can send through."""

    buy_fee_in = "quote"


def _venue_problems(config: Any) -> list[str]:
    from tradeguard.secrets.vault import default_vault_path
    from tradeguard.venues.ccxt_ids import ccxt_exchange_ids

    problems = []
    ids: frozenset[str] | None = None  # read once for every ccxt venue
    for vc in config.venues:
        if vc.kind != "ccxt":
            continue
        ids = ccxt_exchange_ids() if ids is None else ids
        if vc.exchange not in ids:
            problems.append(
                f"venues[{vc.name}]: exchange = {vc.exchange!r} is not a ccxt exchange "
                "(e.g. 'binance', 'okx', 'kraken')"
            )
        vault = default_vault_path()
        if vc.credentials and not vault.exists():
            problems.append(
                f"venues[{vc.name}]: credentials = {vc.credentials!r} but the vault {vault} does "
                f"not exist; add them with `tradeguard keys add {vc.credentials} --venue "
                f"{vc.exchange}` or set TG_VAULT_PATH"
            )
        elif vc.credentials and vc.credentials not in _vault_names(vault, problems, vc.credentials):
            problems.append(
                f"venues[{vc.name}]: credentials = {vc.credentials!r} but the vault {vault} has "
                f"no such entry; add it with `tradeguard keys add {vc.credentials} --venue "
                f"{vc.exchange}`"
            )
    return problems


def _vault_names(vault: Any, problems: list[str], wanted: str) -> list[str]:
    from tradeguard.secrets.vault import Vault, VaultError

    try:
        return Vault(vault).stored_names()
    except (VaultError, OSError) as exc:
        problems.append(f"vault {vault}: {_one_line(exc)}")
        return [wanted]  # named once, as the vault's problem


def _data_problems(config: Any) -> list[str]:
    from tradeguard.marketdata.loaders import iter_candles
    from tradeguard.node import resolve_data_path

    if config.mode.value not in ("paper", "backtest"):
        return []
    problems = []
    for i, dc in enumerate(config.data):
        path = resolve_data_path(dc.path, config.source_dir)
        if not path.is_file():
            problems.append(f"data[{i}].path = {dc.path!r}: no such file (looked at {path})")
            continue
        if dc.kind != "candles":
            continue
        try:
            list(itertools.islice(iter_candles(path, symbol=dc.symbol), 100))
        except (ValueError, OSError, TradeguardError) as exc:
            problems.append(f"data[{i}].path = {dc.path!r}: {_one_line(exc)}")
    return problems


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def cmd_config_check(args: argparse.Namespace, console: Console) -> int:
    """Validate the file; print `valid (…)` or every problem found."""
    from tradeguard.config import load_config

    config = load_config(args.file)
    problems = check_config(config)
    if problems:
        raise ConfigError(f"{args.file}: invalid:\n  " + "\n  ".join(problems))
    n = len(config.strategies)
    console.print(
        f"{args.file}: valid ({config.mode.value} mode, {len(config.venues)} venue(s), "
        f"{n} strateg{'y' if n == 1 else 'ies'})",
        soft_wrap=True,
    )
    return EXIT_OK
