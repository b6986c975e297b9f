"""Alert rules and delivery channels (webhook, Telegram, email) fed by the event bus."""

from tradeguard.alerts.channels import (
    Channel,
    ChannelError,
    EmailChannel,
    TelegramChannel,
    WebhookChannel,
    build_channels,
)
from tradeguard.alerts.config import AlertRules, AlertsConfig
from tradeguard.alerts.manager import AlertManager, build_manager
from tradeguard.alerts.rules import Alert, alert_for, daily_summary_event

__all__ = [
    "Alert",
    "AlertManager",
    "AlertRules",
    "AlertsConfig",
    "Channel",
    "ChannelError",
    "EmailChannel",
    "TelegramChannel",
    "WebhookChannel",
    "alert_for",
    "build_channels",
    "build_manager",
    "daily_summary_event",
]
