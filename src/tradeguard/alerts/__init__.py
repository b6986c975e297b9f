"""Alert rules and delivery channels (webhook, Telegram, email) fed by the event bus."""

# Names load on first use: the config imports `alerts.config`, and a run with alerts off
# should not pay for the HTTP client the channels use.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradeguard.alerts.channels import (
        Channel,
        ChannelError,
        EmailChannel,
        TelegramChannel,
        WebhookChannel,
        build_channels,
    )
    from tradeguard.alerts.config import (
        AlertRules,
        AlertsConfig,
    )
    from tradeguard.alerts.manager import (
        AlertManager,
        build_manager,
    )
    from tradeguard.alerts.rules import (
        Alert,
        alert_for,
        daily_summary_event,
    )

_WHERE = {
    "Channel": "tradeguard.alerts.channels",
    "ChannelError": "tradeguard.alerts.channels",
    "EmailChannel": "tradeguard.alerts.channels",
    "TelegramChannel": "tradeguard.alerts.channels",
    "WebhookChannel": "tradeguard.alerts.channels",
    "build_channels": "tradeguard.alerts.channels",
    "AlertRules": "tradeguard.alerts.config",
    "AlertsConfig": "tradeguard.alerts.config",
    "AlertManager": "tradeguard.alerts.manager",
    "build_manager": "tradeguard.alerts.manager",
    "Alert": "tradeguard.alerts.rules",
    "alert_for": "tradeguard.alerts.rules",
    "daily_summary_event": "tradeguard.alerts.rules",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
