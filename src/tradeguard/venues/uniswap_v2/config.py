"""The `[venues.dex]` table of a `kind = "uniswap_v2"` venue, and the settings built from it."""

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from tradeguard.model.config_model import ConfigModel
from tradeguard.model.errors import ConfigError
from tradeguard.model.fields import empty_dict, empty_list, home_path
from tradeguard.model.text import well_formed_url
from tradeguard.venues.uniswap_v2.settings import DexSettings, Token

_ADDRESS = r"^0x[0-9a-fA-F]{40}$"


def _address(value: str) -> str:
    if not re.fullmatch(_ADDRESS, value):
        raise ValueError("must be an address (0x and 40 hex digits)")
    return value


Address = Annotated[str, AfterValidator(_address)]


def shown_url(url: str) -> str:
    """`url` without user info, path, query or fragment: what logs and banners may name."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "(unreadable RPC URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "") if host else "(no host)"


def _http_url(url: str) -> bool:
    """Tell whether `url` is an http(s) URL the shared check takes: a host, a port of 1-65535 if
    any, no space, control or format character."""
    from urllib.parse import urlsplit

    if not well_formed_url(url):  # urlsplit raises on an IPv6 host left open, a bad port
        return False
    return urlsplit(url).scheme.lower() in ("http", "https")


def _deployment(path: Path) -> tuple[str, str, str, dict[str, str]]:
    """Read a `tradeguard chain` deployment file's rpc_url, router, factory and tokens; a
    damaged one is a ConfigError naming the file and the field (never a value: the file holds
    the demo wallet's key)."""
    again = "; start `tradeguard chain --deployment-file` again to write it anew"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"venues.dex.deployment_file {path} is not JSON ({exc}){again}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"venues.dex.deployment_file {path} is not a JSON object{again}")
    for name in ("rpc_url", "router", "factory"):
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise ConfigError(
                f"venues.dex.deployment_file {path}: {name} is missing or not text{again}"
            )
    if not _http_url(doc["rpc_url"]):
        raise ConfigError(
            f"venues.dex.deployment_file {path}: rpc_url is not an http:// or https:// URL "
            f"with a host, a port of 1-65535 if any, and no space or control character{again}"
        )
    tokens = doc.get("tokens")
    if not isinstance(tokens, dict):
        raise ConfigError(
            f"venues.dex.deployment_file {path}: tokens is missing or not an object{again}"
        )
    for symbol, address in tokens.items():
        if not isinstance(address, str):
            raise ConfigError(
                f"venues.dex.deployment_file {path}: tokens.{symbol} is not an address{again}"
            )
    return doc["rpc_url"], doc["router"], doc["factory"], dict(tokens)


class DexVenueConfig(ConfigModel):
    """Addresses come from the keys below or from a `tradeguard chain` deployment file."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    deployment_file: str | None = None  # fills rpc_url, router, factory and tokens when unset
    # may carry a provider key in its path or query: only its host is ever shown
    rpc_url: str = "http://127.0.0.1:8545"
    # the chain id the RPC must answer (eth_chainId) at start, else the node refuses; live needs it
    chain_id: int | None = Field(default=None, ge=1)
    router: str | None = Field(default=None, pattern=_ADDRESS)
    factory: str | None = Field(default=None, pattern=_ADDRESS)
    tokens: dict[str, Address] = Field(default_factory=empty_dict)  # symbol -> address
    token_decimals: dict[str, int] = Field(default_factory=empty_dict)  # default 18
    # tokens that keep part of every transfer (burnt or sent elsewhere): a swap's output short
    # of the pair's Swap log is booked as their fee; for any other token it waits as a lie
    fee_on_transfer: list[str] = Field(default_factory=empty_list)
    slippage_bps: int = Field(default=50, ge=0, le=5_000)
    deadline_s: int = Field(default=120, ge=10, le=3_600)
    max_fee_per_gas_gwei: Decimal = Field(default=Decimal(50), gt=0, le=10_000)
    priority_fee_gwei: Decimal = Field(default=Decimal(1), ge=0, le=1_000)
    gas_limit: int = Field(default=0, ge=0, le=30_000_000)  # 0 = estimate
    approve_unlimited: bool = False
    # a swap worth more than this (in the pair's quote asset) is refused; 0 = no cap
    max_tx_value: Decimal = Field(default=Decimal(0), ge=0)
    receipt_timeout_s: float = Field(default=30.0, gt=0, le=600)
    stuck_after_s: float = Field(default=120.0, gt=0, le=86_400)
    fee_bump_pct: Decimal = Field(default=Decimal(15), ge=10, le=200)
    # a swap (or cancel) is booked once its block has this many blocks on it, its own counted;
    # one reorged out before then is sent again, and balances are read at the last such block
    confirmations: int = Field(default=1, ge=1, le=64)
    # quotes: new blocks are read for Sync events every quote_poll_s; reserves re-read every
    # quote_refresh_s so a quiet pool's quote stays fresh for the risk engine
    quote_poll_s: float = Field(default=1.0, ge=0.05, le=60)
    quote_refresh_s: float = Field(default=15.0, ge=1, le=3_600)
    # a swap is refused when the pool's price is more than this off its own time-weighted
    # price over about twap_window_s (a pool pushed just before the swap, a sandwich)
    max_pool_deviation_pct: Decimal = Field(default=Decimal(5), gt=0, le=100)
    twap_window_s: int = Field(default=300, ge=10, le=86_400)
    # and more than max_pool_deviation_pct off another venue's mark of the same market, read
    # before each swap: pool symbol -> "venue:symbol", e.g. {"WETH/USD" = "binance:ETH/USDT"}
    # (a pool pushed slowly, for longer than the window, is its own time-weighted reference)
    reference_marks: dict[str, str] = Field(default_factory=empty_dict)

    @field_validator("rpc_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        # The value is never echoed (a provider key may sit in it): only what is wrong with it.
        if not _http_url(url):
            raise ValueError(
                "must be an http:// or https:// URL with a host, a port of 1-65535 (it may be "
                "left out) and no space or control character, e.g. "
                "https://mainnet.example.org/v3/KEY"
            )
        return url

    @field_validator("reference_marks")
    @classmethod
    def _venue_symbols(cls, marks: dict[str, str]) -> dict[str, str]:
        for pool, where in marks.items():
            venue, _, symbol = where.partition(":")
            if not venue or "/" not in symbol or "/" not in pool:
                raise ValueError(
                    f"{pool!r} = {where!r}: give a pool symbol and the venue and symbol whose "
                    'mark it is held to, as "WETH/USD" = "binance:ETH/USDT"'
                )
        return marks

    def reference_of(self) -> dict[str, tuple[str, str]]:
        """`reference_marks` as pool symbol -> (venue, symbol)."""
        out: dict[str, tuple[str, str]] = {}
        for pool, where in self.reference_marks.items():
            venue, _, symbol = where.partition(":")
            out[pool] = (venue, symbol)
        return out

    @field_validator("deployment_file")
    @classmethod
    def _deployment_home(cls, value: str | None) -> str | None:
        return home_path(value) if value else value

    @field_validator("chain_id", mode="before")
    @classmethod
    def _no_bool(cls, value: object) -> object:
        if isinstance(value, bool):  # `chain_id = true` would otherwise be read as chain 1
            raise ValueError(f"chain_id={value} is a boolean; give the chain's integer id >= 1")
        return value

    @model_validator(mode="after")
    def _addresses(self) -> "DexVenueConfig":
        if self.deployment_file is None and (self.router is None or self.factory is None):
            raise ValueError("set router and factory, or deployment_file (tradeguard chain)")
        return self

    def rpc_host(self, base_dir: Path | None = None) -> str:
        """The RPC endpoint as it may be shown: scheme, host and port, never a path or query
        (providers put their keys there)."""
        return shown_url(self.chain_url(base_dir))

    def chain_url(self, base_dir: Path | None = None) -> str:
        """The JSON-RPC URL swaps go to: the deployment file's when one is named and readable."""
        if self.deployment_file is None:
            return self.rpc_url
        path = Path(self.deployment_file)
        if not path.is_absolute() and base_dir is not None and not path.is_file():
            path = base_dir / path
        try:
            return _deployment(path)[0]
        except (OSError, ConfigError):  # not written yet (`tradeguard chain` makes it), or
            return self.rpc_url  # damaged (refused when the venue is built): the default

    def settings(self, symbols: list[str], base_dir: Path | None = None) -> DexSettings:
        """Build the venue's settings, reading the deployment file when one is named."""
        rpc, router, factory, tokens = self.rpc_url, self.router, self.factory, dict(self.tokens)
        if self.deployment_file is not None:
            path = Path(self.deployment_file)
            if not path.is_absolute() and base_dir is not None and not path.is_file():
                path = base_dir / path
            rpc, router, factory, found = _deployment(path)
            tokens = {**found, **tokens}
        assert router is not None and factory is not None
        for symbol in self.fee_on_transfer:
            if symbol not in tokens:
                raise ConfigError(
                    f"venues.dex.fee_on_transfer names {symbol!r}, which is no configured "
                    f"token (venues.dex.tokens: {sorted(tokens)})"
                )
        fees = set(self.fee_on_transfer)
        return DexSettings(
            rpc_url=rpc, router=router, factory=factory,
            tokens={s: Token(s, a, self.token_decimals.get(s, 18), s in fees)
                    for s, a in tokens.items()},
            symbols=symbols, chain_id=self.chain_id, slippage_bps=self.slippage_bps,
            deadline_s=self.deadline_s,
            max_fee_per_gas_gwei=self.max_fee_per_gas_gwei,
            priority_fee_gwei=self.priority_fee_gwei, gas_limit=self.gas_limit,
            approve_unlimited=self.approve_unlimited, max_tx_value=self.max_tx_value,
            receipt_timeout_s=self.receipt_timeout_s, stuck_after_s=self.stuck_after_s,
            fee_bump_pct=self.fee_bump_pct, quote_poll_s=self.quote_poll_s,
            quote_refresh_s=self.quote_refresh_s, confirmations=self.confirmations,
            max_pool_deviation_pct=self.max_pool_deviation_pct, twap_window_s=self.twap_window_s,
            reference_marks=self.reference_of(),
        )  # fmt: skip
