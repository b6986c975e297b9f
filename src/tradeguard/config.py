"""One typed configuration: a TOML file, then `TG_…` environment overrides, validated by pydantic.

Environment overrides use `__` between nesting levels: `TG_RISK__MAX_ORDER_NOTIONAL_USD=50`,
`TG_NODE__DATABASE_URL=postgresql://…`. Values are parsed as TOML literals when they can be
(`50`, `true`, `"x"`), else taken as strings.
"""

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tradeguard.alerts.config import AlertsConfig, well_formed_url
from tradeguard.apiconfig import ApiConfig as ApiConfig
from tradeguard.apiconfig import HealthConfig as HealthConfig
from tradeguard.config_env import apply_env_overrides as apply_env_overrides
from tradeguard.config_errors import describe_validation_error
from tradeguard.config_files import kill_file, sqlite_file
from tradeguard.config_venues import (
    DATA_KINDS,
    check_data_twice,
    check_data_venue,
    check_dex_references,
    check_untied_paper,
)
from tradeguard.model.config_model import ConfigModel
from tradeguard.model.enums import TradingMode
from tradeguard.model.errors import ConfigError
from tradeguard.model.fields import empty_dict, empty_list, home_path
from tradeguard.model.fields import field_range as field_range
from tradeguard.model.holdings import HOLDINGS
from tradeguard.model.instrument import SYMBOL_RULE, is_symbol
from tradeguard.model.money import STABLECOINS
from tradeguard.model.toml_text import loads_toml
from tradeguard.risk.config import RiskConfig
from tradeguard.venues.uniswap_v2.config import DexVenueConfig

MIN_BACKUP_INTERVAL_S = 60  # each backup derives a scrypt key and copies the whole database
DEFAULT_DATA_FILE = "candles/BTC-PERP_1m_20211231-20220201.csv"
MAX_BALANCE = 10**15  # per asset; a starting balance above it is a typo, not an account


class _Strict(ConfigModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def is_asset(value: str) -> bool:
    """True for an asset code as a symbol's side spells it (USDT, wstETH, MARKET:YES)."""
    return "/" not in value and is_symbol(f"{value}/USD")


def _symbol(value: str) -> str:
    """Hold a symbol of the config (instrument, data, strategy, venue filter, bot) to the one
    rule of model/instrument.py; the value itself is shown (cut) by the error's line."""
    if not is_symbol(value):
        raise ValueError(f"a symbol must be {SYMBOL_RULE}")
    return value


Symbol = Annotated[str, AfterValidator(_symbol)]


class InstrumentConfig(_Strict):
    """A market's rules, for venues (paper) that do not publish them."""

    symbol: Symbol
    price_tick: Decimal = Field(gt=0)
    amount_step: Decimal = Field(gt=0)
    min_amount: Decimal = Field(default=Decimal(0), ge=0)
    min_notional: Decimal = Field(default=Decimal(0), ge=0)
    maker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, le=Decimal("0.05"))
    taker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, le=Decimal("0.05"))
    # paper candle fills: this market's own slippage (bps), else the venue's fill_model value
    slippage_bps: Decimal | None = Field(default=None, ge=0, le=1000)


class FillModelConfig(_Strict):
    """How the paper venue fills when it only has candles."""

    # next_open: a taker fills at the next candle's open; in_candle: at once, at the close of
    # the candle it was placed on (both moved by slippage and impact, inside [low, high])
    fill_at: Literal["next_open", "in_candle"] = "next_open"
    slippage_bps: Decimal = Field(default=Decimal(5), ge=0, le=1000)
    impact_bps_per_pct: Decimal = Field(default=Decimal(2), ge=0, le=1000)
    max_participation_pct: Decimal = Field(default=Decimal(10), gt=0, le=100)


KALSHI_API_PREFIX = "/trade-api/v2"  # venues/kalshi/signing.py API_PREFIX


def _endpoint_ok(url: str) -> bool:
    """A venue URL that can be connected to ('http://[::1' stopped the start with a traceback)."""
    ok = len(url) <= 500 and well_formed_url(url)  # urlsplit raises on what this refuses
    return ok and urlsplit(url).scheme in ("http", "https", "ws", "wss")


class VenueConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    kind: Literal["paper", "ccxt", "kalshi", "polymarket", "uniswap_v2"] = "paper"
    exchange: str = "binance"
    credentials: str | None = None  # vault entry name; secrets never live in the config file
    sandbox: bool = True
    rest_url: str | None = None  # our local sandbox exchange, e.g. http://127.0.0.1:8765
    ws_url: str | None = None
    balances: dict[str, Decimal] = Field(default_factory=empty_dict)
    instruments: list[InstrumentConfig] = Field(default_factory=empty_list)
    fill_model: FillModelConfig = Field(default_factory=FillModelConfig)
    symbols: list[Symbol] = Field(default_factory=empty_list, max_length=10_000)
    # kind = "paper" in sandbox mode: the exchange venue whose live streams (books, trades,
    # quotes, candles) feed this venue's strategies and fills; a kalshi or polymarket venue
    # (data_only = true) feeds a paper venue of the same `exchange`, which takes its markets
    data_venue: str | None = None
    # kind = "ccxt", "kalshi" or "polymarket": public market data only (no credentials, no
    # orders, no balances), for the paper venues that name it as data_venue; allowed on a real
    # exchange outside live mode.
    data_only: bool = False
    # kind = "ccxt": a market order goes out as a limit order at the risk engine's slippage
    # bound, immediate-or-cancel ("protected"), or as the exchange's market order ("market";
    # refused for buys where the exchange sizes market buys in the quote currency).
    market_orders: Literal["protected", "market"] = "protected"
    # Live mode refuses a key that can withdraw funds (Binance reports it) unless this is set.
    allow_withdrawal_key: bool = False
    dex: DexVenueConfig | None = None  # kind = "uniswap_v2": addresses, slippage, gas and caps
    # Rest bots' stop-loss / take-profit on this venue (an OCO when both are set) where it has
    # stop orders (ccxt Binance, paper); off: the engine enforces every exit rule on live prices.
    native_exits: bool = False
    # With native_exits: an armed trailing stop moves the resting stop up to its level (cancel,
    # then place again) at most once per this many seconds; 0 keeps trailing stops in the engine.
    native_trailing_interval_s: int = Field(default=60, ge=0, le=86_400)
    # kind = "kalshi" or "polymarket": a listing (markets, the trades since the last
    # reconciliation) longer than this many pages is refused; raise it after a long stop.
    max_pages: int = Field(default=500, ge=1, le=100_000)

    @field_validator("rest_url", "ws_url")
    @classmethod
    def _endpoint(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v and not _endpoint_ok(v):
            raise ValueError(
                "not a URL to connect to: expected http(s):// or ws(s):// with a host, a port "
                "of 1-65535 if any, and no space or control character "
                "(e.g. http://127.0.0.1:8765)"
            )
        # the Kalshi client signs paths below /trade-api/v2: without it `run` stopped in a trace
        kalshi = info.data.get("kind") == "kalshi" and info.field_name == "rest_url"
        if v and kalshi and not v.rstrip("/").endswith(KALSHI_API_PREFIX):
            raise ValueError(
                f"a kalshi venue's REST URL ends with {KALSHI_API_PREFIX} "
                f"(e.g. http://127.0.0.1:8766{KALSHI_API_PREFIX})"
            )
        return v

    @field_validator("balances")
    @classmethod
    def _non_negative(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, amount in v.items():
            if not is_asset(asset):
                shown = repr(asset) if asset.isprintable() else ascii(asset)
                raise ValueError(f"balance key {shown} is not an asset code (e.g. USDT, wstETH)")
            if not 0 <= amount <= MAX_BALANCE:
                raise ValueError(f"balance for {asset} is {amount}; allowed 0..{MAX_BALANCE:,}")
        return v


TIMEFRAME_S = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14_400, "1d": 86_400}


class DataConfig(_Strict):
    """A recorded market-data file replayed into the node (paper and backtest modes)."""

    # A relative path: next to the config file, else the working directory, else the data directory.
    path: str = DEFAULT_DATA_FILE
    symbol: Symbol = "BTC/USDT"
    venue: str = "paper"
    kind: Literal["candles", "trades", "quotes", "book"] = "candles"
    # Longer bars built from this file's candles as they replay (paper replay and backtest):
    # each of this symbol's strategies gets `on_bar(interval_s, bar)` for every completed one.
    # Each must be a multiple of the file's own (or --timeframe's) interval.
    timeframes: list[str] = Field(default_factory=empty_list)

    @field_validator("path")
    @classmethod
    def _path_home(cls, v: str) -> str:
        home_path(v)  # a `~user` of no such user is refused here, not as the loader's traceback
        return v

    @field_validator("timeframes")
    @classmethod
    def _known_timeframes(cls, value: list[str]) -> list[str]:
        for tf in value:
            if tf not in TIMEFRAME_S:
                raise ValueError(f"timeframes: {tf!r} is not one of {', '.join(TIMEFRAME_S)}")
        if len(set(value)) != len(value):
            raise ValueError(f"timeframes: {value} names a timeframe twice")
        return value


class StrategyConfig(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    kind: str = "ma_crossover"
    venue: str = "paper"
    symbol: Symbol = "BTC/USDT"
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=empty_dict)
    # unfilled limit orders are cancelled after this many seconds (0 = never)
    order_timeout_s: float = Field(default=0.0, ge=0, le=30 * 86_400)
    # on timeout, re-send the unfilled rest of an entry at the current best price
    replace_on_timeout: bool = False
    # trade as the signal bot of the same name: every order passes the bot's limits, cooldown,
    # one position per symbol and emergency stop first (docs/bots.md)
    bot: bool = False

    @field_validator("id")
    @classmethod
    def _not_holdings(cls, v: str) -> str:
        if v == HOLDINGS:
            raise ValueError(f"{v!r} names the account's trades made by hand; choose another id")
        return v


class ReconcileConfig(_Strict):
    """How the journal is reconciled with the venues, at start-up and while trading."""

    # open venue orders the journal never knew: adopt them (strategy `external`) or cancel them
    external_orders: Literal["adopt", "cancel"] = "adopt"
    # fills are fetched from this many seconds before the last successful reconciliation
    fills_lookback_s: float = Field(default=120.0, ge=0, le=7 * 86_400)
    # each venue call is tried this many times when the answer is ambiguous (timeout, 5xx)
    call_attempts: int = Field(default=4, ge=1, le=20)
    call_timeout_s: float = Field(default=15.0, gt=0, le=600)
    # live and sandbox modes: balances are read from every exchange venue this often, between
    # reconciliations (0 = only at reconciliation); a venue is skipped for a pass while an order
    # there is unresolved, unacknowledged or just changed, or has a fill the ledger lacks
    balance_sync_interval_s: float = Field(default=15.0, ge=0, le=86_400)
    # a ledger total further than both tolerances from the venue's is a discrepancy (event +
    # recorded adjustment); the ledger always takes the venue's figure, a difference within
    # them recorded as an adjustment too (no cash flow; an info event beyond the absolute one)
    balance_tolerance_pct: Decimal = Field(default=Decimal("0.1"), ge=0, le=100)
    balance_tolerance_abs: Decimal = Field(default=Decimal("0.00000001"), ge=0, le=1_000_000)


DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


class NodeConfig(_Strict):
    name: str = "tradeguard"  # a label for whoever reads the file; nothing reads it
    database_url: str = "sqlite:///tradeguard.db"
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    valuation_asset: str = "USDT"
    # USD per unit of pegged assets, an ASSUMPTION used only where no market prices the asset
    # (a market price always wins): a USDT balance on a venue listing only BTC markets counts
    # 1 USD a unit, in BTC at the BTC/USDT mark, else risk.valuation_asset_usd. {} values such
    # balances at nothing.
    pegged_assets: dict[str, Decimal] = Field(
        default_factory=lambda: {a: Decimal(1) for a in sorted(STABLECOINS)}, max_length=100
    )
    # paper/backtest replays: 0 = as fast as possible, N = N x real time on the data clock
    replay_speed: float = Field(default=0.0, ge=0, le=1_000_000)
    kill_sentinel: str = "tradeguard.kill"
    checkpoint_every: int = Field(default=5_000, ge=1, le=10_000_000)
    # paper replay: whole candles commit at most this often (0 = every candle that wrote)
    replay_commit_interval_s: float = Field(default=0.1, ge=0, le=3600)
    # live and sandbox modes
    checkpoint_interval_s: float = Field(default=5.0, gt=0, le=3600)
    # a strategy's state() asked to be stored now (Strategy.save_soon: a trailing stop's new
    # high) is written at the end of that step, at most once per this interval (0: every step)
    state_save_interval_s: float = Field(default=0.2, ge=0, le=60)
    reconcile_interval_s: float = Field(default=60.0, gt=0, le=86_400)
    kill_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    # after a kill, what a close working at that moment leaves open is flattened with at most
    # this many orders per position, each close waited for at most this long (docs/risk.md)
    kill_follow_up_max_orders: int = Field(default=3, ge=1, le=100)
    # ... and gives up after this many of its flattens refused by the risk engine (never sent:
    # no price to cap them, an order of the symbol unresolved), one a kill_poll_interval_s
    kill_follow_up_max_denials: int = Field(default=30, ge=1, le=10_000)
    kill_follow_up_wait_s: float = Field(default=600.0, ge=1, le=86_400)
    # a strategy's two exits that both filled (a stop and a take-profit resting as separate
    # orders): "close" buys or sells the excess back at market, "report" only reports it
    exit_overshoot: Literal["close", "report"] = "close"
    # an order for a symbol no stream carries subscribes it and waits this long for a quote
    subscribe_wait_s: float = Field(default=3.0, ge=0, le=60)
    # held and fee assets no traded market prices (BNB for fees): read once before trading starts,
    # waiting at most this long (a slower venue is logged and skipped; 0 = not before trading)
    reference_prices_timeout_s: float = Field(default=10.0, ge=0, le=600)
    # ... again this often where no balance sync reads them (data_only venues); 0 = start only
    reference_prices_interval_s: float = Field(default=60.0, ge=0, le=86_400)
    # a reference price not read again for longer (a closed market's book) is shown as stale
    reference_price_max_age_s: float = Field(default=3600.0, ge=60, le=30 * 86_400)
    # live and sandbox modes: an encrypted backup every N seconds (0 = off; TG_BACKUP_PASSPHRASE
    # must be set) into backup_dir, keeping the newest backup_keep (docs/backup.md)
    backup_interval_s: float = Field(default=0.0, ge=0, le=30 * 86_400)
    backup_dir: str = "backups"
    backup_keep: int = Field(default=7, ge=1, le=10_000)

    @field_validator("pegged_assets")
    @classmethod
    def _pegs(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, usd in v.items():
            if not asset.isalnum() or not asset.isupper() or len(asset) > 20:
                raise ValueError(f"pegged_assets key {asset!r}: expected an asset code like USDT")
            if not Decimal(0) < usd <= Decimal(1000):
                raise ValueError(
                    f"pegged_assets.{asset} = {usd}: expected USD per unit in (0, 1000]"
                )
        return v

    @field_validator("database_url")
    @classmethod
    def _database_backend(cls, v: str) -> str:
        # Only these have a writer lock; anything else passed `config check` and stopped `run`.
        scheme = v.split("://", 1)[0].lower() if "://" in v else ""
        if scheme not in DATABASE_SCHEMES:
            shown = f"{scheme!r}" if scheme.isascii() and scheme.isprintable() else "unreadable"
            raise ValueError(
                f"database backend {shown if scheme else '(no scheme)'} is not supported; "
                "use sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname"
            )
        if scheme == "sqlite":
            sqlite_file(v[len("sqlite://") :])
        return scheme + v[len(scheme) :]  # a scheme is case-insensitive; the engine's is not

    @field_validator("valuation_asset")
    @classmethod
    def _valuation_asset(cls, v: str) -> str:
        # An empty one valued every holding at 0: the first candle halted with "no equity".
        if not is_asset(v):
            raise ValueError("expected an asset code such as USDT, USD or BTC")
        return v

    @field_validator("kill_sentinel")
    @classmethod
    def _sentinel_is_a_file(cls, v: str) -> str:
        return kill_file(v)

    @field_validator("backup_dir")
    @classmethod
    def _backup_home(cls, v: str) -> str:
        return home_path(v)

    @field_validator("backup_interval_s")
    @classmethod
    def _backup_interval(cls, v: float) -> float:
        if 0 < v < MIN_BACKUP_INTERVAL_S:
            raise ValueError(
                f"backup_interval_s = {v:g} is too often: give 0 (off) or at least "
                f"{MIN_BACKUP_INTERVAL_S} seconds"
            )
        return v


class BotConfig(_Strict):
    """A signal bot applied at start: registered if new, else the fields named here win."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    enabled: bool | None = None  # unset: keep the stored state (a new bot starts disabled)
    max_order_usd: Decimal | None = Field(default=None, gt=0, le=1_000_000)
    max_position_usd: Decimal | None = Field(default=None, gt=0, le=1_000_000)
    max_total_position_usd: Decimal | None = Field(default=None, gt=0, le=1_000_000)
    daily_loss_usd: Decimal | None = Field(default=None, gt=0, le=1_000_000)
    weekly_loss_usd: Decimal | None = Field(default=None, gt=0, le=1_000_000)
    venue: str | None = None
    symbols: list[Symbol] | None = Field(default=None, max_length=500)
    cooldown_s: int | None = Field(default=None, ge=0, le=7 * 86_400)
    max_losing_streak: int | None = Field(default=None, ge=1, le=1000)
    confirmation_ttl_s: int | None = Field(default=None, ge=1, le=3600)
    confirmations_needed: int | None = Field(default=None, ge=1, le=20)
    confirmation_window_s: int | None = Field(default=None, ge=1, le=86_400)
    require_confirmation: bool | None = None
    one_position_per_symbol: bool | None = None
    sizing: dict[str, Any] | None = None  # {"kind": "fixed" | "table" | "linear", ...}

    def named_fields(self) -> dict[str, Any]:
        """Return the spec fields this entry sets (money as strings), without name and enabled."""
        doc = self.model_dump(exclude_unset=True, exclude={"name", "enabled"})
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in doc.items()}


# kv_state key: the strategy ids of the node last started on a database, and which trade as bots
RUNNING_STRATEGIES_KEY = "node.strategies"


def bot_name_clash(name: str) -> str:
    """Why a strategy may not carry a bot's name (a bot trades as strategy id = its name)."""
    return (
        f"{name!r} names both a strategy and a bot: a bot trades as strategy id = its name, "
        "so the strategy's orders would count as the bot's without its limits, cooldown or "
        "emergency stop; rename the strategy or the bot, or set bot = true on the strategy "
        "to trade through the bot's gate"
    )


class Config(_Strict):
    mode: TradingMode = TradingMode.PAPER
    node: NodeConfig = Field(default_factory=NodeConfig)
    data: list[DataConfig] = Field(default_factory=lambda: [DataConfig()])
    venues: list[VenueConfig] = Field(default_factory=empty_list)
    strategies: list[StrategyConfig] = Field(default_factory=empty_list)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    bots: list[BotConfig] = Field(default_factory=empty_list, max_length=200)
    # The config file's folder: relative strategy files are looked up there first.
    _source_dir: Path | None = PrivateAttr(default=None)

    @property
    def source_dir(self) -> Path | None:
        """Return the folder of the file this config was read from, if any."""
        return self._source_dir

    def file_path(self, field: str, raw: str) -> Path:
        """Resolve the file named by config key `field`: a relative path is taken from the
        config file's folder (the working directory for a config built in code); ConfigError
        names the key, the value and the path looked at when there is no such file."""
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = (self._source_dir or Path.cwd()) / path
        if not path.is_file():
            where = "the config file's folder" if self._source_dir else "the working directory"
            raise ConfigError(
                f"{field} = {raw!r}: no file at {path} (a relative path is taken from {where}; "
                "give a path from there or an absolute one)"
            )
        return path

    def _data_references(self, names: list[str]) -> None:
        if self.mode not in (TradingMode.PAPER, TradingMode.BACKTEST) or not names:
            # sandbox and live modes trade on venue streams, not on [[data]] files; a config
            # without venues (read-only commands, tests) replays nothing
            return
        for i, d in enumerate(self.data):
            if d.venue not in names:
                default = "" if "data" in self.model_fields_set else " (the built-in default)"
                raise ValueError(
                    f"data[{i}]{default} ({d.path}) feeds venue {d.venue!r}, which is not "
                    f"configured; known venues: {names} (add a [[data]] entry with venue = one "
                    "of them, or data = [] to replay nothing)"
                )
            if d.kind != "candles":
                raise ValueError(
                    f"data[{i}].kind = {d.kind!r}: paper and backtest runs replay candles only; "
                    "give a candle file (kind = 'candles')"
                )
        check_data_twice(self.data)
        listed = {v.name: [ic.symbol for ic in v.instruments] for v in self.venues if v.instruments}
        users = [(f"data[{i}].symbol", d.symbol, d.venue) for i, d in enumerate(self.data)]
        users += [(f"strategy {s.id!r} symbol", s.symbol, s.venue) for s in self.strategies]
        for who, symbol, venue in users:
            if venue in listed and symbol not in listed[venue]:
                raise ValueError(
                    f"{who} = {symbol!r} is not listed on venue {venue!r}; its instruments: "
                    f"{listed[venue]} (add a [[venues.instruments]] entry or fix the symbol)"
                )

    def _data_only_references(self, names: list[str]) -> None:
        data_only = {v.name for v in self.venues if v.data_only}
        for v in self.venues:
            if v.data_only and (v.kind not in DATA_KINDS or v.credentials):
                raise ValueError(
                    f"venue {v.name!r}: data_only = true is for a venue of kind ccxt, kalshi "
                    f"or polymarket without credentials (kind={v.kind!r}, "
                    f"credentials={v.credentials!r}); it reads public market data only"
                )
        users = [(f"strategy {s.id!r}", s.venue) for s in self.strategies]
        users += [(f"bot {b.name!r}", b.venue) for b in self.bots if b.venue is not None]
        for who, venue in users:
            if venue in data_only:
                trading = sorted(n for n in names if n not in data_only)
                raise ValueError(
                    f"{who} trades on venue {venue!r}, which is data_only (market data, no "
                    f"orders); trade on a paper venue with data_venue = {venue!r}; venues that "
                    f"trade: {trading}"
                )

    @model_validator(mode="after")
    def _references(self) -> "Config":
        names = [v.name for v in self.venues]
        if len(set(names)) != len(names):
            raise ValueError(f"venue names must be unique, got {names}")
        for s in self.strategies:
            if s.venue not in names:
                raise ValueError(f"strategy {s.id!r} uses venue {s.venue!r}; known venues: {names}")
        ids = [s.id for s in self.strategies]
        if len(set(ids)) != len(ids):
            raise ValueError(f"strategy ids must be unique, got {ids}")
        bots = [b.name for b in self.bots]
        if len(set(bots)) != len(bots):
            raise ValueError(f"bot names must be unique, got {bots}")
        clash = sorted(set(ids) & set(bots) - {s.id for s in self.strategies if s.bot})
        if clash:
            raise ValueError(bot_name_clash(clash[0]))
        for b in self.bots:
            if b.venue is not None and b.venue not in names:
                raise ValueError(f"bot {b.name!r} uses venue {b.venue!r}; known venues: {names}")
        kinds = {v.name: v.kind for v in self.venues}
        self._data_only_references(names)
        self._data_references(names)
        data_only = {v.name for v in self.venues if v.data_only}
        for v in self.venues:
            check_dex_references(v, self.venues)
            if v.data_venue is not None:
                check_data_venue(v, kinds, data_only)
            elif v.kind == "paper" and self.mode is TradingMode.SANDBOX:
                check_untied_paper(v, self.venues)  # replays (paper, backtest) stream nothing
        if self.mode is TradingMode.LIVE and any(v.kind == "paper" for v in self.venues):
            raise ValueError("mode 'live' cannot use a paper venue")
        return self


def default_config() -> dict[str, Any]:
    """The built-in paper config: BTC/USDT on the bundled real 1-minute data, MA crossover."""
    return {
        "mode": "paper",
        "venues": [
            {
                "name": "paper",
                "kind": "paper",
                "balances": {"USDT": "10000"},
                "instruments": [
                    {
                        "symbol": "BTC/USDT",
                        "price_tick": "0.01",
                        "amount_step": "0.00001",
                        "min_amount": "0.00001",
                        "min_notional": "5",
                        "maker_fee": "0.001",
                        "taker_fee": "0.001",
                    }
                ],
            }
        ],
        "data": [{"path": DEFAULT_DATA_FILE, "symbol": "BTC/USDT", "venue": "paper"}],
        "strategies": [
            {
                "id": "ma_cross",
                "kind": "ma_crossover",
                "venue": "paper",
                "symbol": "BTC/USDT",
                "params": {
                    "fast": 20,
                    "slow": 60,
                    "order_usd": "90",
                    "stop_loss_pct": "2",
                    "take_profit_pct": "5",
                    "trailing_stop_pct": "1.5",
                    "trailing_activation_pct": "3",
                },
            }
        ],
    }


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read a TOML file (or the built-in paper config), apply env overrides, and validate."""
    env = dict(os.environ if environ is None else environ)
    if path is None:
        data = default_config()
    else:
        p = Path(path)
        if p.is_dir():
            raise ConfigError(f"config file {p} is a directory (pass --config with a TOML file)")
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist (pass --config with a TOML file)")
        try:
            data = loads_toml(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config file {p} is not UTF-8 text (byte {exc.start}); save it as UTF-8 TOML"
            ) from None
        except OSError as exc:
            raise ConfigError(f"config file {p} cannot be read: {exc.strerror}") from None
        if "venues" not in data and "strategies" not in data:
            base = default_config()
            base.update(data)
            data = base
    apply_env_overrides(data, env)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(Config, exc, env)) from None
    if path is not None:
        config._source_dir = Path(path).resolve().parent
    return config
