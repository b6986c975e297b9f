"""An `rpc_url` that is no URL (an IPv6 host left open, a port out of range) is refused with the
config's one line naming the field, never a traceback, and never shows the URL's path (a
provider's key sits there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.cli import main

CONFIG = """mode = "sandbox"
[node]
database_url = "sqlite:///dex.db"
valuation_asset = "USD"
[[venues]]
name = "dex"
kind = "uniswap_v2"
credentials = "dex-demo"
symbols = ["WETH/USD"]
[venues.dex]
rpc_url = "{url}"
router = "0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D"
factory = "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"
[venues.dex.tokens]
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USD = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
"""


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/v3/PROVIDERKEY",  # an IPv6 host never closed
        "http://127.0.0.1:99999/v3/PROVIDERKEY",  # a port past 65535
        "http://[zz::1]:8545/v3/PROVIDERKEY",  # brackets around no IPv6 address
    ],
)
def test_an_rpc_url_that_is_no_url_is_one_line_naming_the_field(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the IPv6 one ended in an UnboundLocalError traceback from the URL check.
    path = tmp_path / "dex.toml"
    path.write_text(CONFIG.format(url=url))
    code = main(["config", "check", str(path)])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err and "Error:" not in err.split("\n")[0], err
    assert "venues.0.dex.rpc_url" in err and "http:// or https:// URL" in err, err
    assert "PROVIDERKEY" not in err
