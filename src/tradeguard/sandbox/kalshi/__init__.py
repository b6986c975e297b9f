"""A local server speaking Kalshi's Trade API v2 (REST and WebSocket) on loopback."""
