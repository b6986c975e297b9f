"""Build small real nodes for tests: paper venue, tmp database, a slice of the real BTC data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tradeguard.config import Config, default_config
from tradeguard.node import TradingNode, build_node

BTC_FILE = "candles/BTC-PERP_1m_20211231-20220201.csv"


def write_slice(data_dir: Path, out: Path, rows: int) -> Path:
    """Copy the header and the first `rows` candles of the real BTC file."""
    lines = (data_dir / BTC_FILE).read_text().splitlines()[: rows + 1]
    out.write_text("\n".join(lines) + "\n")
    return out


def paper_config(
    db_url: str,
    data_path: Path,
    *,
    strategies: bool = True,
    risk: dict[str, Any] | None = None,
    tmp: Path | None = None,
) -> Config:
    data = default_config()
    data["node"] = {
        "database_url": db_url,
        "kill_sentinel": str((tmp or data_path.parent) / "tg.kill"),
    }
    data["data"] = [{"path": str(data_path), "symbol": "BTC/USDT", "venue": "paper"}]
    if not strategies:
        data["strategies"] = []
    if risk:
        data["risk"] = risk
    return Config.model_validate(data)


def node_for(cfg: Config) -> TradingNode:
    return build_node(cfg)


MA_STRATEGY_TOML = """
[[strategies]]
id = "ma_cross"
kind = "ma_crossover"
venue = "paper"
symbol = "BTC/USDT"
params = { fast = 5, slow = 20, order_usd = "90" }
"""


def write_paper_toml(
    tmp_path: Path,
    data: Path,
    *,
    db_url: str | None = None,
    strategies: str = MA_STRATEGY_TOML,
    node_extra: str = "",
    extra: str = "",
    folder: Path | None = None,
    name: str = "tg.toml",
) -> Path:
    """Write the paper config the command-line tests run: one BTC/USDT paper venue and data file."""
    db = db_url or f"sqlite:///{tmp_path / 'tg.db'}"
    cfg = (folder or tmp_path) / name
    cfg.write_text(
        f"""
mode = "paper"
[node]
database_url = "{db}"
kill_sentinel = "{tmp_path / "tg.kill"}"
{node_extra}
[[data]]
path = "{data}"
symbol = "BTC/USDT"
venue = "paper"
[[venues]]
name = "paper"
kind = "paper"
balances = {{ USDT = "10000" }}
[[venues.instruments]]
symbol = "BTC/USDT"
price_tick = "0.01"
amount_step = "0.00001"
min_notional = "5"
{strategies}
{extra}
"""
    )
    return cfg


@asynccontextmanager
async def trading_live(node: TradingNode, duration_s: float = 60) -> AsyncIterator[TradingNode]:
    """Run a started node's live loop for the block; then stop the loop and the node, close it."""
    live = asyncio.create_task(node.run_live(duration_s=duration_s))
    try:
        yield node
    finally:
        # A block that never yielded ends before the loop has begun: the loop, once started,
        # ends at once on this stop all the same.
        node.request_stop()
        await live
        await node.stop()
        node.close()
