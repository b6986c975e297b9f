"""A small backtest config over the real BTC-quoted 5-minute candles, written into a test folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRATEGY_FILE = ROOT / "examples" / "backtest" / "ema_cross.py"
EXAMPLE_CONFIG = ROOT / "examples" / "backtest" / "btc_pairs.toml"


def write_config(
    folder: Path, pairs: tuple[str, ...] = ("ETH", "ADA"), mode: str = "backtest"
) -> Path:
    """Write the example config cut down to `pairs`; return its path."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    head, _, rest = text.partition("[[data]]")
    blocks = ("[[data]]" + rest).split("\n\n")
    kept = []
    for block in blocks:
        names = [
            p for p in ("ETH", "ADA", "LTC", "XLM", "TRX", "ETC", "NXT") if f"{p}/BTC" in block
        ]
        if names and names[0] not in pairs:
            continue
        kept.append(block)
    body = "\n\n".join(kept).replace(
        'kind = "ema_cross.py:EmaCross"', f'kind = "{STRATEGY_FILE}:EmaCross"'
    )
    path = folder / f"{mode}.toml"
    path.write_text(head.replace('mode = "backtest"', f'mode = "{mode}"') + body, encoding="utf-8")
    return path
