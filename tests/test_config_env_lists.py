"""`TG_…` overrides reach keys inside array tables by index
(`TG_VENUES__0__FILL_MODEL__SLIPPAGE_BPS`): such a variable replaced the whole `[[venues]]`
list with a table, and the config was refused as "venues = '{…}': Input should be a valid
list", naming neither the variable nor the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "paper.toml"


def test_an_override_by_index_sets_that_entry_and_keeps_the_rest() -> None:
    env = {"TG_VENUES__0__FILL_MODEL__SLIPPAGE_BPS": '"7"', "TG_STRATEGIES__0__PARAMS__FAST": "10"}

    config = load_config(EXAMPLE, environ=env)

    [venue] = config.venues
    assert venue.name == "paper" and venue.balances == {"USDT": Decimal(10_000)}
    assert venue.fill_model.slippage_bps == 7 and venue.fill_model.max_participation_pct == 10
    assert [i.symbol for i in venue.instruments] == ["BTC/USDT"]
    assert config.strategies[0].id == "ma_cross" and config.strategies[0].params["fast"] == 10


def test_a_bad_value_by_index_names_the_key_and_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(EXAMPLE, environ={"TG_VENUES__0__FILL_MODEL__SLIPPAGE_BPS": '"-1"'})

    said = str(err.value)
    var = "TG_VENUES__0__FILL_MODEL__SLIPPAGE_BPS"
    assert f"venues.0.fill_model.slippage_bps = '-1' (set by ${var})" in said, said
    assert "valid list" not in said


@pytest.mark.parametrize("var", ["TG_VENUES__1__NAME", "TG_VENUES__X__NAME", "TG_DATA__-1__PATH"])
def test_an_index_that_names_no_entry_is_refused_naming_the_variable(var: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(EXAMPLE, environ={var: '"x"'})

    said = str(err.value)
    assert f"${var}" in said and "1 entry" in said and "index 0" in said, said
