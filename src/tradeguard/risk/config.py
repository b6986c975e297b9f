"""Risk limits: every key has a default, a unit in its name and a range; ceilings live in code."""

from decimal import Decimal
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from tradeguard.model.config_model import ConfigModel
from tradeguard.model.errors import ConfigError

# The exact phrase that lets a config raise a limit above its built-in ceiling.
CEILING_OVERRIDE_PHRASE = "I accept losses beyond the built-in ceilings"

# Ceilings a config file alone cannot raise. A value above one needs `ceiling_override_ack` set
# to CEILING_OVERRIDE_PHRASE, and the engine records the override in the audit log at start.
HARD_CEILINGS: dict[str, Decimal] = {
    "max_order_notional_usd": Decimal(10_000),
    "max_order_notional_pct": Decimal(50),
    "max_portfolio_heat_pct": Decimal(60),
    "daily_loss_limit_usd": Decimal(50_000),
    "daily_loss_limit_pct": Decimal(25),
    "weekly_loss_limit_usd": Decimal(100_000),
    "weekly_loss_limit_pct": Decimal(40),
    "max_drawdown_pct": Decimal(50),
    "price_band_pct": Decimal(10),
    "market_slippage_cap_pct": Decimal(5),
    "max_orders_per_s": Decimal(50),
}

# Limits that may be switched off (None). Live mode refuses to start while any is off.
OPTIONAL_LIMITS = (
    "max_trades_per_day",
    "daily_loss_limit_usd",
    "weekly_loss_limit_usd",
    "weekly_loss_limit_pct",
)


def _d(value: str | int) -> Decimal:
    return Decimal(value)


class RiskConfig(ConfigModel):
    """Every pre-trade limit and circuit breaker of the risk engine (`[risk]` in the config)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    # per order
    max_order_notional_usd: Decimal = Field(default=_d(100), gt=0, le=_d(10_000_000))
    max_order_notional_pct: Decimal = Field(default=_d(20), gt=0, le=100)
    # per venue and symbol: the account's net position plus working entry orders (off: None)
    max_position_notional_usd: Decimal | None = Field(default=None, gt=0, le=_d(100_000_000))
    min_order_notional_usd: Decimal = Field(default=_d(10), ge=0, le=_d(1_000_000))
    price_band_pct: Decimal = Field(default=_d(2), gt=0, le=100)
    market_slippage_cap_pct: Decimal = Field(default=_d(1), gt=0, le=100)
    # portfolio
    max_portfolio_heat_pct: Decimal = Field(default=_d(30), gt=0, le=100)
    assumed_stop_distance_pct: Decimal = Field(default=_d(10), gt=0, le=100)
    max_open_positions: int = Field(default=5, ge=1, le=1000)
    one_position_per_strategy: bool = False
    min_account_balance_usd: Decimal = Field(default=_d(100), ge=0, le=_d(100_000_000))
    stable_reserve_pct: Decimal = Field(default=_d(20), ge=0, le=100)
    # rates and counters
    max_trades_per_day: int | None = Field(default=10, ge=1, le=1_000_000)
    max_orders_per_s: Decimal = Field(default=_d(5), gt=0, le=1000)
    cooldown_after_trade_s: int = Field(default=0, ge=0, le=7 * 86_400)
    cooldown_after_loss_s: int = Field(default=300, ge=0, le=7 * 86_400)
    # losses
    daily_loss_limit_usd: Decimal | None = Field(default=_d(250), gt=0, le=_d(100_000_000))
    daily_loss_limit_pct: Decimal = Field(default=_d(5), gt=0, le=100)
    daily_loss_warning_pct: Decimal = Field(default=_d(80), gt=0, le=100)
    weekly_loss_limit_usd: Decimal | None = Field(default=_d(750), gt=0, le=_d(100_000_000))
    weekly_loss_limit_pct: Decimal | None = Field(default=_d(10), gt=0, le=100)
    # breakers
    max_consecutive_losses: int = Field(default=3, ge=1, le=1000)
    # How long the consecutive-loss breaker keeps the node REDUCING; 0 = until a manual resume.
    consecutive_loss_pause_s: int = Field(default=14_400, ge=0, le=30 * 86_400)
    max_drawdown_pct: Decimal = Field(default=_d(10), gt=0, le=100)
    # What the drawdown and daily-loss breakers do with open positions when they trip:
    # "halt" sends nothing more (HALTED), "reduce" lets exits through (REDUCING), "flatten"
    # closes every position as `kill --flatten` does, then stays HALTED (docs/risk.md).
    on_loss_halt: Literal["halt", "reduce", "flatten"] = "halt"
    venue_error_threshold: int = Field(default=5, ge=1, le=1000)
    venue_error_window_s: int = Field(default=60, ge=1, le=86_400)
    venue_half_open_after_s: int = Field(default=300, ge=1, le=86_400)
    stale_data_s: int = Field(default=60, ge=1, le=86_400)
    # a mark this far (percent) from the last accepted mark of its symbol on its venue is held as
    # a suspect print until a second update confirms it (0 = off); outcome tokens of prediction
    # markets (polymarket, kalshi venues) have their own limit, off by default
    max_mark_jump_pct: Decimal = Field(default=_d(30), ge=0, le=_d(100_000))
    max_mark_jump_outcome_pct: Decimal = Field(default=_d(0), ge=0, le=_d(100_000))
    # USD price of the valuation asset when no market gives one (e.g. 1 BTC = 40000 USD); the
    # `*_usd` limits need it whenever node.valuation_asset is not a stablecoin
    valuation_asset_usd: Decimal | None = Field(default=None, gt=0, le=_d(100_000_000))
    # arbitrage cycles
    arb_min_profit_after_fees_pct: Decimal = Field(default=_d("0.5"), ge=0, le=100)
    arb_max_cycle_length: int = Field(default=5, ge=2, le=10)
    arb_max_cycle_notional_usd: Decimal = Field(default=_d(100), gt=0, le=_d(10_000_000))
    # raising a hard ceiling needs this exact phrase (CEILING_OVERRIDE_PHRASE)
    ceiling_override_ack: str = ""

    @model_validator(mode="after")
    def _within_ceilings(self) -> "RiskConfig":
        above = self.ceiling_overrides()
        if above and self.ceiling_override_ack != CEILING_OVERRIDE_PHRASE:
            key, value, ceiling = above[0]
            raise ConfigError(
                f"risk.{key}={value} is above the built-in ceiling {ceiling}; lower it, or set "
                f'risk.ceiling_override_ack = "{CEILING_OVERRIDE_PHRASE}" to accept the risk'
                + (f" ({len(above) - 1} more above their ceilings)" if len(above) > 1 else "")
            )
        return self

    def ceiling_overrides(self) -> list[tuple[str, Decimal, Decimal]]:
        """List (key, value, ceiling) for every limit set above its hard ceiling."""
        out = []
        for key, ceiling in HARD_CEILINGS.items():
            value = getattr(self, key)
            if value is not None and Decimal(value) > ceiling:
                out.append((key, Decimal(value), ceiling))
        return out

    def unset_limits(self) -> list[str]:
        """List the limits that are switched off (None); live mode refuses any."""
        return [key for key in OPTIONAL_LIMITS if getattr(self, key) is None]

    def is_unlimited(self) -> bool:
        """Tell whether any limit is switched off."""
        return bool(self.unset_limits())

    def describe(self) -> dict[str, Any]:
        """Every key with its value, for logs and the API (Decimals as strings)."""
        return {
            k: (str(v) if isinstance(v, Decimal) else v)
            for k, v in self.model_dump().items()
            if k != "ceiling_override_ack"
        }
