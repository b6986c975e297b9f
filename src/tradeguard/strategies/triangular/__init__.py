"""Triangular (and longer) arbitrage: index every cycle of a venue, rescore it per ticker."""

from tradeguard.strategies.triangular.markets import (
    ArbMarket,
    MarketDataError,
    Ticker,
    markets_from_ccxt,
    tickers_from_ccxt,
)
from tradeguard.strategies.triangular.opportunity import Leg, LegAmount, Opportunity
from tradeguard.strategies.triangular.scanner import TriangularScanner

__all__ = [
    "ArbMarket",
    "Leg",
    "LegAmount",
    "MarketDataError",
    "Opportunity",
    "Ticker",
    "TriangularScanner",
    "markets_from_ccxt",
    "tickers_from_ccxt",
]
