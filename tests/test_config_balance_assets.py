"""A paper venue's starting balances are keyed by asset codes as venues spell them: an empty
name, one with a space or a control character is refused naming the key, rather than stored
(PostgreSQL mangles a NUL) and then failing the ledger audit of every start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _write(tmp_path: Path, balances: str) -> Path:
    text = (EXAMPLES / "paper.toml").read_text()
    assert 'balances = { USDT = "10000" }' in text
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace('balances = { USDT = "10000" }', balances))
    return cfg


@pytest.mark.parametrize("asset", ["", " ", "US DT", "X\\u0000Y", "USDT\\n", "a/b", "usdt"])
def test_a_balance_of_no_asset_code_is_refused(tmp_path: Path, asset: str) -> None:
    cfg = _write(tmp_path, f'balances = {{ USDT = "10000", "{asset}" = "5" }}')

    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})

    assert "venues.0.balances" in str(err.value)
    assert "asset code" in str(err.value)


@pytest.mark.parametrize("asset", ["BTC", "wstETH", "USDC.e", "PRES-2028:YES", "1INCH"])
def test_asset_codes_venues_use_are_taken(tmp_path: Path, asset: str) -> None:
    cfg = _write(tmp_path, f'balances = {{ USDT = "10000", "{asset}" = "5" }}')

    config = load_config(cfg, environ={})

    assert config.venues[0].balances[asset] == 5


@pytest.mark.parametrize("asset", ["", " ", "US DT", "usdt", "USDT\\u200b"])
def test_a_valuation_asset_that_is_no_asset_code_is_refused(tmp_path: Path, asset: str) -> None:
    """`valuation_asset = ""` passed `config check`; the run then valued everything at 0 and
    halted at its first candle with "no equity"."""
    text = (EXAMPLES / "paper.toml").read_text()
    assert 'valuation_asset = "USDT"' in text
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace('valuation_asset = "USDT"', f'valuation_asset = "{asset}"'))

    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})

    assert "node.valuation_asset" in str(err.value)
    assert "asset code" in str(err.value)
