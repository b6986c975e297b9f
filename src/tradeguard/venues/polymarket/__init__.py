"""Polymarket CLOB V2: order signing through the official client and the `polymarket` Venue."""
