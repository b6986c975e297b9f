"""Positions, balances, equity and performance."""

from tradeguard.portfolio.portfolio import STABLECOINS, Portfolio

__all__ = ["STABLECOINS", "Portfolio"]
