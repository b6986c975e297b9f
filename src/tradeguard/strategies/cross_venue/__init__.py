"""Polymarket <-> Kalshi arbitrage on human-mapped pairs: both legs or neither."""
