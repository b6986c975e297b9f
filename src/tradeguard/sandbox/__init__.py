"""A local exchange that speaks a subset of Binance's spot API, for rehearsals and tests."""

from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.matching import EngineReject, MarketSpec, MatchingEngine
from tradeguard.sandbox.server import SandboxExchange

__all__ = [
    "EngineReject",
    "Faults",
    "MarketSpec",
    "MatchingEngine",
    "SandboxConfig",
    "SandboxExchange",
]
