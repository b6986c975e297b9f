"""Alert settings (`[alerts]` in the config): rules, channels, retries, queue and rate limits."""

from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from tradeguard.model.config_model import ConfigModel
from tradeguard.model.fields import empty_list
from tradeguard.model.text import well_formed_url

# Rule names: the keys of `AlertRules` and of `AlertsConfig.min_interval_s`.
RULE_NAMES = (
    "position_opened",
    "position_closed",
    "daily_loss_warning",
    "breaker_tripped",
    "kill_switch",
    "order_failed",
    "venue_error",
    "daily_summary",
    "cash_flow",
    "arb_held",
    "arb_unwound",
    "arb_settlement_mismatch",
    "arb_completed",
    "win_rate_low",
    "sharpe_low",
    "unusual_volume",
)


def _http_url(v: SecretStr, field: str, why: str, what: str) -> SecretStr:
    """An http(s) URL or empty (off); the refusal never shows the value, a credential."""
    raw = v.get_secret_value()
    if raw and not raw.startswith(("http://", "https://")):
        raise ValueError(
            f"{field} must start with http:// or https:// (the value is hidden because {why}); "
            f"leave it empty to switch {what} off"
        )
    if raw and not well_formed_url(raw):
        raise ValueError(
            f"{field} is not a well-formed URL: it needs a host, a port of 1-65535 if any, and no "
            f"space or control character (the value is hidden because {why}); "
            f"leave it empty to switch {what} off"
        )
    return v


class _Strict(ConfigModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AlertRules(_Strict):
    """Which events raise an alert; every rule but `arb_completed` is on by default."""

    position_opened: bool = True
    position_closed: bool = True
    daily_loss_warning: bool = True
    breaker_tripped: bool = True
    kill_switch: bool = True
    order_failed: bool = True
    venue_error: bool = True
    daily_summary: bool = True
    # Outside money: a transfer recorded with `tradeguard transfer`, a deposit the balance
    # sync found, a decrease no one declared (critical).
    cash_flow: bool = True
    # An arbitrage cycle left an asset stranded (critical).
    arb_held: bool = True
    # An arbitrage cycle failed a leg and sold what it held back to the start asset (warning).
    arb_unwound: bool = True
    # A held cross-venue pair resolved differently on its two venues (critical, with the loss).
    arb_settlement_mismatch: bool = True
    # A cross-venue or triangular arbitrage completed, with its expected and actual profit
    # (info; off by default: a busy scanner completes many).
    arb_completed: bool = False
    # Win rate over the last closed trades fell below alerts.performance.win_rate_min_pct.
    win_rate_low: bool = True
    # Annualised Sharpe over the last closed trades fell below alerts.performance.sharpe_min.
    sharpe_low: bool = True
    # A candle's volume on a traded symbol above volume_factor x its rolling mean.
    unusual_volume: bool = True
    # A DEX swap mined but held unbooked (the RPC's answer for it not trusted), with why.
    swap_held: bool = True

    def enabled(self, rule: str) -> bool:
        """Tell whether `rule` is switched on (unknown names are off)."""
        return bool(getattr(self, rule, False))


class WebhookConfig(_Strict):
    """An incoming-webhook URL (Slack, Discord or any JSON receiver); empty means off."""

    # The URL itself is a credential for Slack and Discord webhooks.
    url: SecretStr = SecretStr("")
    format: Literal["slack", "discord", "generic"] = "slack"

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: SecretStr) -> SecretStr:
        return _http_url(v, "alerts.webhook.url", "webhook URLs are credentials", "webhooks")

    @property
    def configured(self) -> bool:
        return bool(self.url.get_secret_value())


class TelegramConfig(_Strict):
    """A Telegram bot and the chat it writes to; an empty token means off."""

    bot_token: SecretStr = SecretStr("")
    chat_id: str = ""
    api_base: str = "https://api.telegram.org"
    # HTML (escaped for you) or "" for plain text.
    parse_mode: Literal["HTML", ""] = "HTML"

    @model_validator(mode="after")
    def _check(self) -> "TelegramConfig":
        if self.bot_token.get_secret_value() and not self.chat_id:
            raise ValueError(
                "alerts.telegram.chat_id is empty while bot_token is set; set the chat id "
                "(ask @userinfobot or read getUpdates) or clear bot_token"
            )
        base = self.api_base
        if not base.startswith(("http://", "https://")) or not well_formed_url(base):
            raise ValueError(
                f"alerts.telegram.api_base={self.api_base[:120]!r} must be an http:// or "
                "https:// URL with a host, a port of 1-65535 if any, and no space or control "
                "character"
            )
        return self

    @property
    def configured(self) -> bool:
        return bool(self.bot_token.get_secret_value())


class SmtpConfig(_Strict):
    """An SMTP relay and the addresses alerts go to; an empty host means off."""

    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str = ""
    password: SecretStr = SecretStr("")
    from_addr: str = ""
    to_addrs: list[str] = Field(default_factory=empty_list)
    subject_prefix: str = "[tradeguard]"

    @model_validator(mode="after")
    def _check(self) -> "SmtpConfig":
        if self.host and (not self.from_addr or not self.to_addrs):
            raise ValueError(
                f"alerts.smtp.host={self.host!r} is set but from_addr={self.from_addr!r} / "
                f"to_addrs={self.to_addrs!r} are missing; set both or clear host"
            )
        for addr in [self.from_addr, *self.to_addrs]:
            if addr and "@" not in addr:
                raise ValueError(f"alerts.smtp address {addr!r} has no '@'; use user@domain")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.host)


class PerformanceConfig(_Strict):
    """Thresholds of the performance alerts (`[alerts.performance]`)."""

    # win rate below this percentage over the last `win_rate_trades` closed trades
    win_rate_min_pct: float = Field(default=35.0, ge=0, le=100)
    win_rate_trades: int = Field(default=20, ge=2, le=10_000)
    # annualised Sharpe of the last `sharpe_trades` closed trades' returns below this
    sharpe_min: float = Field(default=1.0, ge=-100, le=100)
    sharpe_trades: int = Field(default=20, ge=3, le=10_000)
    # a candle's volume above `volume_factor` x the mean of the previous `volume_window` candles
    volume_factor: float = Field(default=5.0, gt=1, le=1000)
    volume_window: int = Field(default=288, ge=10, le=100_000)


def _default_intervals() -> dict[str, float]:
    # A flapping venue or a rejecting strategy must not flood the operator's phone.
    return {
        "venue_error": 60.0,
        "order_failed": 10.0,
        "daily_loss_warning": 3600.0,
        "unusual_volume": 3600.0,
    }


# the longest one delivery may take (alerts.timeout_s x alerts.delivery_timeouts), in seconds
MAX_DELIVERY_S = 3600


class AlertsConfig(_Strict):
    """Alert rules, channels and delivery settings."""

    enabled: bool = True
    # A vault entry holding the channels' secrets (fields webhook_url, telegram_bot_token,
    # smtp_password, heartbeat_url): each fills the setting left empty here, so no token needs
    # to sit in the config file or the environment. Empty means none.
    credentials: str = Field(default="", max_length=128)
    rules: AlertRules = Field(default_factory=AlertRules)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)
    max_retries: int = Field(default=5, ge=0, le=50)
    retry_backoff_s: float = Field(default=1.0, gt=0, le=600)
    retry_backoff_max_s: float = Field(default=60.0, gt=0, le=3600)
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    # A whole delivery (an SMTP session, an HTTP request with its answer) is cut after this many
    # timeout_s: a receiver slower than timeout_s still gets each alert once (the retry waits
    # for the delivery under way), one that never finishes frees the channel after it.
    delivery_timeouts: int = Field(default=5, ge=1, le=60)
    # Connections one webhook or Telegram receiver may hold at once: POSTs it never answered
    # cannot take more.
    max_connections_per_receiver: int = Field(default=4, ge=1, le=64)
    drain_timeout_s: float = Field(default=5.0, ge=0, le=300)
    # Per rule: the same alert (same dedupe key) is sent at most once per interval.
    min_interval_s: dict[str, float] = Field(default_factory=_default_intervals)
    # Dead-man ping (healthchecks.io, Uptime Kuma push): a live node calls this URL every
    # heartbeat_interval_s while its health is ok; silence means trouble. Empty means off.
    heartbeat_url: SecretStr = SecretStr("")
    heartbeat_interval_s: float = Field(default=60.0, ge=0.1, le=86_400)
    heartbeat_method: Literal["GET", "POST"] = "GET"

    @field_validator("heartbeat_url")
    @classmethod
    def _check_heartbeat_url(cls, v: SecretStr) -> SecretStr:
        return _http_url(v, "alerts.heartbeat_url", "ping URLs carry a token", "the ping")

    @field_validator("min_interval_s")
    @classmethod
    def _check_intervals(cls, v: dict[str, float]) -> dict[str, float]:
        for key, seconds in v.items():
            if key not in RULE_NAMES:
                raise ValueError(
                    f"alerts.min_interval_s has unknown rule {key!r}; known rules: "
                    f"{', '.join(RULE_NAMES)}"
                )
            if not 0 <= seconds <= 86_400:
                raise ValueError(f"alerts.min_interval_s[{key!r}]={seconds} is outside 0..86400 s")
        return v

    @model_validator(mode="after")
    def _check_delivery_bound(self) -> "AlertsConfig":
        longest = self.timeout_s * self.delivery_timeouts
        if longest > MAX_DELIVERY_S:
            raise ValueError(
                f"alerts.delivery_timeouts={self.delivery_timeouts} x alerts.timeout_s="
                f"{self.timeout_s:g} lets one delivery take {longest:g} s, above the limit of "
                f"{MAX_DELIVERY_S} s; lower either"
            )
        return self

    @model_validator(mode="after")
    def _check_backoff(self) -> "AlertsConfig":
        if self.retry_backoff_max_s < self.retry_backoff_s:
            raise ValueError(
                f"alerts.retry_backoff_max_s={self.retry_backoff_max_s} is below "
                f"retry_backoff_s={self.retry_backoff_s}; raise the cap or lower the base"
            )
        return self

    def backoff_s(self, attempt: int) -> float:
        """Return the wait before retry number `attempt` (1-based): exponential, capped."""
        return min(self.retry_backoff_max_s, self.retry_backoff_s * 2 ** max(0, attempt - 1))
