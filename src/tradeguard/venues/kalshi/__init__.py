"""Kalshi Trade API v2: request signing, a small HTTP client and the `kalshi` Venue."""
