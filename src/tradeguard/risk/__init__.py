"""Pre-trade checks, circuit breakers, kill switch and the trading state."""

from tradeguard.risk.config import CEILING_OVERRIDE_PHRASE, HARD_CEILINGS, RiskConfig
from tradeguard.risk.engine import KILL_FLATTEN_TAG, RiskDecision, RiskEngine
from tradeguard.risk.kill import KillReport, KillRequest, KillSwitch
from tradeguard.risk.state import ResumeRefused
from tradeguard.risk.store import JsonFileStateStore, MemoryStateStore
from tradeguard.risk.views import MarketView, PortfolioView, StateStore

__all__ = [
    "CEILING_OVERRIDE_PHRASE",
    "HARD_CEILINGS",
    "KILL_FLATTEN_TAG",
    "JsonFileStateStore",
    "KillReport",
    "KillRequest",
    "KillSwitch",
    "MarketView",
    "MemoryStateStore",
    "PortfolioView",
    "ResumeRefused",
    "RiskConfig",
    "RiskDecision",
    "RiskEngine",
    "StateStore",
]
