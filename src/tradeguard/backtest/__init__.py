"""Simulated clock and venue wiring for backtests."""
