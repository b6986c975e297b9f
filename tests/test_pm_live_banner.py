"""The banner printed before real money names each prediction-market venue for what it is."""

from __future__ import annotations

from tradeguard.config import Config
from tradeguard.venues.modes import check_mode, live_banner


def test_the_live_banner_names_kalshi_and_polymarket_venues_not_binance() -> None:
    config = Config.model_validate({
        "mode": "live",
        "venues": [
            {"name": "k-main", "kind": "kalshi", "sandbox": False, "credentials": "kalshi-main"},
            {"name": "pm-main", "kind": "polymarket", "sandbox": False, "credentials": "pm-main"},
        ],
        "strategies": [],
    })  # fmt: skip
    check_mode(config, confirm_live=True, environ={})
    banner = live_banner(config)
    assert "binance" not in banner
    assert "venues:              k-main (kalshi), pm-main (polymarket)" in banner
