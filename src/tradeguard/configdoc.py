"""Render the configuration reference (docs/configuration.md) from the typed config itself."""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tradeguard.alerts.config import (
    AlertRules,
    AlertsConfig,
    PerformanceConfig,
    SmtpConfig,
    TelegramConfig,
    WebhookConfig,
)
from tradeguard.config import (
    ApiConfig,
    BotConfig,
    Config,
    DataConfig,
    FillModelConfig,
    HealthConfig,
    InstrumentConfig,
    NodeConfig,
    ReconcileConfig,
    StrategyConfig,
    VenueConfig,
    field_range,
)
from tradeguard.config_env import NOT_OVERRIDES
from tradeguard.model.instrument import SYMBOL_MAX_LEN
from tradeguard.risk.config import RiskConfig
from tradeguard.strategies.cross_venue.executor import PairExecConfig
from tradeguard.strategies.triangular.executor import TriangularExecConfig
from tradeguard.strategies.triangular.strategy import TriangularParams
from tradeguard.venues.uniswap_v2.config import DexVenueConfig

SECTIONS: list[tuple[str, type[BaseModel], str]] = [
    ("(top level)", Config, "The mode and the sections below."),
    (
        "node",
        NodeConfig,
        "Process-wide settings. `name` is a label for the people who read the file: no "
        "part of tradeguard reads it (logs, alerts and the API do not show it).",
    ),
    (
        "[[data]]",
        DataConfig,
        "Recorded market data replayed in paper and backtest modes. A relative `path` is looked "
        "up next to the config file, then in the working directory, then in the data directory "
        "(`$TG_DATA_DIR`, else `../shared/data`).",
    ),
    ("[[venues]]", VenueConfig, "Trading venues; secrets live in the vault, never here."),
    ("[[venues]].instruments", InstrumentConfig, "Market rules for venues that publish none."),
    ("[[venues]].fill_model", FillModelConfig, "How the paper venue fills on candles."),
    (
        "[[venues]].dex (kind uniswap_v2)",
        DexVenueConfig,
        "A Uniswap v2 venue: node, contracts, tokens, gas and caps (see docs/dex.md). Addresses"
        " come from these keys or from a `tradeguard chain` deployment file; `rpc_url` may carry"
        " a provider key, so only its host is ever shown.",
    ),
    ("[[strategies]]", StrategyConfig, "Strategies and their parameters."),
    (
        "[[strategies]].params (kind triangular)",
        TriangularParams,
        "What a triangular strategy scans (see docs/triangular.md).",
    ),
    (
        "[[strategies]].params.exec (kind triangular)",
        TriangularExecConfig,
        "How it executes a cycle. `strategy_id` is always the strategy's `id`; `fees_charged_in`"
        " defaults to where the venue charges a buy's fee (paper and ccxt Kraken: `quote`, ccxt"
        " Binance: `received`). `on_interrupted`: what the next"
        " start does with legs a stopped node left without a record: trade them back within"
        " `max_unwind_loss_pct` before the strategy trades (`unwind`, the default), or keep them"
        " and raise one critical `arb.held` (`hold`).",
    ),
    (
        "[[strategies]].params.exec (kind cross_venue)",
        PairExecConfig,
        "How it executes a pair (see docs/pm_arbitrage.md). `on_interrupted`: what the next start"
        " does with a lone leg a stopped node left without a record: sell it back within"
        " `max_unwind_loss_usd` before the strategy trades (`unwind`, the default), or keep it"
        " and raise one critical `arb.held` (`hold`).",
    ),
    (
        "[[bots]]",
        BotConfig,
        "Signal bots applied at start: a new one is registered (disabled unless `enabled = true`);"
        " on a registered one the keys named here win (see docs/bots.md).",
    ),
    ("risk", RiskConfig, "Pre-trade limits and breakers (see docs/risk.md)."),
    ("reconcile", ReconcileConfig, "Reconciliation of the journal with the venues."),
    ("api", ApiConfig, "The HTTP API and dashboard."),
    (
        "health",
        HealthConfig,
        "When `GET /api/v1/health` answers degraded or down (HTTP 503) instead of ok (200).",
    ),
    (
        "alerts",
        AlertsConfig,
        "Alert delivery: queue, retries, rate limits; the dead-man ping (`heartbeat_url`).",
    ),
    (
        "alerts.rules",
        AlertRules,
        "Which events raise an alert (all on by default but `arb_completed`).",
    ),
    (
        "alerts.performance",
        PerformanceConfig,
        "Thresholds of the performance alerts: win rate, Sharpe, volume spikes.",
    ),
    ("alerts.webhook", WebhookConfig, "Slack/Discord-compatible webhook."),
    ("alerts.telegram", TelegramConfig, "Telegram Bot API."),
    ("alerts.smtp", SmtpConfig, "Email over SMTP."),
]


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        try:
            value: Any = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(built in)"
        if isinstance(value, BaseModel):
            return "(section)"
        if isinstance(value, dict) and value:  # as TOML writes it: {USDT = "1", ...}
            pairs = ", ".join(
                f"{k} = {v}" if isinstance(v, int | float) else f'{k} = "{v}"'
                for k, v in value.items()
            )
            return f"`{{{pairs}}}`"
        return f"`{value}`" if value not in ([], {}) else "empty"
    if info.is_required():
        return "required"
    value = info.default
    return "none" if value is None else f"`{value}`"


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The config models a field's type holds (itself, a list's items, an optional's value)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for a in get_args(tp) for m in _models_in(a)]


# the config's symbol fields (config.Symbol) are checked by a function, not a pattern
_SYMBOL_TYPE = re.compile(r"Annotated\[str, AfterValidator\(func=<function _symbol at \w+>\)\]")
_MODULE_PATH = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+(?=[A-Z])")
_SYMBOL_ALLOWED = f"a symbol: BASE/QUOTE or MARKET:YES/QUOTE, <= {SYMBOL_MAX_LEN} characters"


def _holds_symbol(metadata: Any, tp: Any) -> bool:
    """Tell whether a field (its metadata and type, a list's items, an optional's value) is
    checked as a symbol."""
    checks = [getattr(getattr(m, "func", None), "__name__", "") for m in metadata]
    args = get_args(tp)
    return "_symbol" in checks or any(
        _holds_symbol(getattr(a, "__metadata__", ()), a) for a in args if a is not str
    )


def _allowed(info: FieldInfo) -> str:
    """The field's bounds; for a symbol (or a list of them) the symbol rule in short."""
    symbol = _holds_symbol(info.metadata, info.annotation)
    return ", ".join(p for p in (field_range(info, patterns=True), _SYMBOL_ALLOWED * symbol) if p)


def render() -> str:
    """Return the Markdown reference for every configuration key."""
    out = [
        "# Configuration reference",
        "",
        "Generated from the typed configuration (`tradeguard.configdoc`); a test keeps it current.",
        "Every key can be overridden from the environment: `TG_SECTION__KEY=value`, e.g.",
        "`TG_RISK__MAX_ORDER_NOTIONAL_USD=50`; an array table's entry by its index, from 0",
        "(`TG_VENUES__0__FILL_MODEL__SLIPPAGE_BPS=7`; an index it does not hold is refused).",
        "Names are read in lower case: a key the file has is matched in any case",
        "(`TG_VENUES__0__BALANCES__USDT` sets `USDT`), but a new key written in capitals (an",
        "asset code) is added in the file. A value outside its range stops the node with the",
        "key, the value and the range. `tradeguard config check FILE` validates without running.",
        "A path (`node.kill_sentinel`, `node.backup_dir`, `database_url`'s SQLite file, the API's",
        "TLS files, a DEX venue's `deployment_file`, a `[[data]]` file's `path`) takes a leading",
        "`~` as the home folder:",
        "`$HOME` of the process reading the config, as a shell takes it, so under `sudo` that",
        "keeps the caller's `$HOME` a node's `~/tg.kill` is in the caller's home; `~user/...`",
        "names that user's home whoever reads it (a user of no home is refused). A running node",
        "records the absolute kill file it watches and `tradeguard kill` writes that file, so a",
        "kill reaches it whatever `$HOME` the kill runs with. `$TG_DATA_DIR` takes `~` alike.",
        "The variables tradeguard reads for itself are no overrides: "
        + ", ".join(f"`{n}`" for n in sorted(NOT_OVERRIDES))
        + ".",
        "",
    ]
    for name, model, blurb in SECTIONS:
        out += [
            f"## {name}",
            "",
            blurb,
            "",
            "| key | type | default | allowed |",
            "|---|---|---|---|",
        ]
        for key, info in model.model_fields.items():
            ann = getattr(info.annotation, "__name__", None) or str(info.annotation)
            ann = ann.replace("typing.", "").replace("decimal.", "").replace("|", "or")
            ann = _SYMBOL_TYPE.sub("symbol", ann)
            ann = _MODULE_PATH.sub("", ann)
            out.append(f"| `{key}` | {ann} | {_default(info)} | {_allowed(info)} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
