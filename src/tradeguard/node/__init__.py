"""The node: builds every part from one config and runs the one order path."""

from tradeguard.marketdata.data_files import resolve_data_path
from tradeguard.node.builder import build_node
from tradeguard.node.credentials import vault_entry
from tradeguard.node.node import TradingNode
from tradeguard.node.state_store import RISK_STATE_KEY, StorageStateStore
from tradeguard.node.stats import (
    CURSOR_KEY,
    EQUITY_KEY,
    FIGURES_KEY,
    HEARTBEAT_KEY,
    STATS_KEY,
    RunStats,
    RunSummary,
)

_vault_entry = vault_entry

__all__ = [
    "CURSOR_KEY",
    "EQUITY_KEY",
    "FIGURES_KEY",
    "HEARTBEAT_KEY",
    "RISK_STATE_KEY",
    "STATS_KEY",
    "RunStats",
    "RunSummary",
    "StorageStateStore",
    "TradingNode",
    "build_node",
    "resolve_data_path",
    "vault_entry",
]
