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
    assert f"${var}" in said and "1 entry" in said and "index 0..0" in said, said
    assert f"e.g. {var.split('__')[0]}__0__" in said, said


def test_an_override_of_a_capitalised_key_sets_that_key_not_a_lower_case_twin(
    tmp_path: Path,
) -> None:
    """Variable names are read in lower case: `TG_VENUES__0__BALANCES__1INCH` added a second
    balance `1inch` next to the file's `1INCH`, which kept its amount (a coin the venue does not
    list, and the override silently lost)."""
    text = EXAMPLE.read_text()
    assert 'balances = { USDT = "10000" }' in text
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace('{ USDT = "10000" }', '{ USDT = "10000", 1INCH = "100" }'))
    env = {"TG_VENUES__0__BALANCES__1INCH": '"5"', "TG_VENUES__0__BALANCES__USDT": '"7"'}

    config = load_config(cfg, environ=env)

    assert config.venues[0].balances == {"USDT": Decimal(7), "1INCH": Decimal(5)}


@pytest.mark.parametrize("var", ["TG_STRATEGIES__0__ID", "TG_BOTS__0__NAME"])
def test_an_index_into_a_list_the_file_does_not_have_names_the_variable(
    tmp_path: Path, var: str
) -> None:
    """With no such array table in the file, an index made a table keyed '0', refused as
    "strategies = '{…}': Input should be a valid list", naming neither the variable nor why."""
    text = EXAMPLE.read_text()
    start = text.index("[[strategies]]")
    end = text.index("\n[risk]", start)
    cfg = tmp_path / "c.toml"
    cfg.write_text(text[:start] + text[end:])
    assert "[[strategies]]" not in cfg.read_text() and "[[bots]]" not in cfg.read_text()

    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={var: '"x"'})

    said = str(err.value)
    assert f"${var}" in said and "0 entries" in said and "valid list" not in said, said
    assert "add the entry to the file" in said and "TG_VENUES" not in said, said


def test_a_bad_value_for_a_capitalised_key_names_its_variable() -> None:
    var = "TG_VENUES__0__BALANCES__USDT"

    with pytest.raises(ConfigError) as err:
        load_config(EXAMPLE, environ={var: '"lots"'})

    said = str(err.value)
    assert f"venues.0.balances.USDT = 'lots' (set by ${var})" in said, said
