"""Build small real nodes for tests: paper venue, tmp database, a slice of the real BTC data."""

from __future__ import annotations

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
