"""A local server speaking Polymarket's CLOB V2 on loopback."""
