"""What `tradeguard sandbox --dialect kraken` lists and prints: demo markets, keys, URLs."""

from __future__ import annotations

import base64
import secrets
from decimal import Decimal
from typing import Any, TextIO

DEMO_MARKETS: list[dict[str, Any]] = [
    {
        "symbol": "BTC/USD", "base": "BTC", "quote": "USD", "tick": "0.1", "step": "0.00000001",
        "min_qty": "0.0001", "min_notional": "0.5", "maker_fee": "0.0016", "taker_fee": "0.0026",
        "bids": [["49999.0", "1"], ["49998.0", "2"]], "asks": [["50001.0", "1"], ["50002.0", "2"]],
    },
    {
        "symbol": "ETH/USD", "base": "ETH", "quote": "USD", "tick": "0.01", "step": "0.00000001",
        "min_qty": "0.002", "min_notional": "0.5", "maker_fee": "0.0016", "taker_fee": "0.0026",
        "bids": [["2999.00", "10"]], "asks": [["3001.00", "10"]],
    },
]  # fmt: skip
DEMO_BALANCES = {"USD": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("50")}


def new_secret() -> str:
    """A secret in Kraken's form: 64 random bytes, base64."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def print_urls(base_url: str, out: TextIO) -> None:
    """The lines telling a user where the Kraken sandbox answers."""
    print(f"kraken REST    {base_url}/0/public/Time  (venue rest_url = {base_url!r})", file=out)
    ws = base_url.replace("http", "ws", 1) + "/kraken-ws/v2"
    print(f"kraken WS      {ws}  (public websocket v2: ticker, book, trade, ohlc)", file=out)
    print(f"admin          {base_url}/admin/faults", file=out)
