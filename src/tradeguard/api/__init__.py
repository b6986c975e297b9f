"""HTTP API, WebSocket stream and dashboard."""
