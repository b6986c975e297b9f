"""A number given as `true` or `false` is refused when the config loads, naming the field and
the value: pydantic alone reads `true` as 1, so `max_trades_per_day = true` allowed one pair a
day and `leg_timeout_s = true` waited one second, with no word said."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.cli import main
from tradeguard.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pm_arb_sandbox.toml"


def _written(tmp: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text()
    assert old in text, old
    path = tmp / "pm_arb_sandbox.toml"
    path.write_text(text.replace(old, new, 1))
    (tmp / "pm_map.toml").write_text((EXAMPLE.parent / "pm_map.toml").read_text())
    return path


# `config check` lists what is wrong one line each, under a first line naming the file
@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("max_trades_per_day = 10", "max_trades_per_day = true", "limits.max_trades_per_day"),
        ("leg_timeout_s = 5", "leg_timeout_s = true", "params.exec.leg_timeout_s"),
        ("cooldown_s = 2 ", "cooldown_s = false ", "params.cooldown_s"),
        ("reconcile_interval_s = 60 ", "reconcile_interval_s = true ", "reconcile_interval_s"),
        ('price_band_pct = "10"', "price_band_pct = true", "risk.price_band_pct"),
    ],
)  # fmt: skip
def test_a_boolean_for_a_number_is_refused_in_one_line_naming_the_field(
    tmp_path, capsys, old, new, named
) -> None:
    assert main(["config", "check", str(_written(tmp_path, old, new))]) == 2
    said = capsys.readouterr().err.strip()
    flag = new.split("=")[1].strip()
    [line] = [x for x in said.splitlines() if named in x]  # the field, once
    assert f"`{flag}` is a boolean" in line and "Traceback" not in said, said


def test_booleans_where_booleans_belong_still_load(tmp_path) -> None:
    path = _written(tmp_path, 'rest_url = "http://127.0.0.1:8766/trade-api/v2"',
                    'rest_url = "http://127.0.0.1:8766/trade-api/v2"\nsandbox = true')  # fmt: skip
    assert load_config(str(path)).venues[0].sandbox is True


def test_a_boolean_in_a_table_of_numbers_is_refused_naming_the_entry(tmp_path, capsys) -> None:
    # pydantic reads it as 1: the venue-error alert would repeat every second, not every minute
    end = 'arb_max_cycle_notional_usd = "500"'
    path = _written(tmp_path, end, end + "\n\n[alerts]\nmin_interval_s = { venue_error = true }")
    assert main(["config", "check", str(path)]) == 2
    said = capsys.readouterr().err.strip()
    [line] = [x for x in said.splitlines() if "alerts.min_interval_s" in x]
    assert "`true` at [venue_error] is a boolean" in line and "Traceback" not in said, said


@pytest.mark.parametrize("flag", ["nan", "inf", "-inf"])
def test_a_number_that_is_not_finite_is_refused_as_such(tmp_path, capsys, flag) -> None:
    # nan fails every comparison: pydantic said only that it should be <= the upper bound
    path = _written(tmp_path, "leg_timeout_s = 5", f"leg_timeout_s = {flag}")
    assert main(["config", "check", str(path)]) == 2
    said = capsys.readouterr().err.strip()
    [line] = [x for x in said.splitlines() if "params.exec.leg_timeout_s" in x]
    assert f"= {flag}: Input should be a finite number" in line, said
    assert "less than" not in line and "greater than" not in line, said


# Decimal() and int() read any script's digits: "٥٠" is 50 and "１٠٠" is 100, figures that
# read as something else to whoever reviews the file (the API and `bot add` take 0-9 only)
@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('price_band_pct = "10"', 'price_band_pct = "١٠"', "risk.price_band_pct"),
        ('max_unwind_loss_usd = "5"', 'max_unwind_loss_usd = "５"', "max_unwind_loss_usd"),
        ('daily_loss_usd = "500"', 'daily_loss_usd = "５٠0"', "daily_loss_usd"),
    ],
)  # fmt: skip
def test_a_number_in_digits_other_than_0_9_is_refused_naming_the_field(
    tmp_path, capsys, old, new, named
) -> None:
    assert main(["config", "check", str(_written(tmp_path, old, new))]) == 2
    said = capsys.readouterr().err.strip()
    [line] = [x for x in said.splitlines() if named in x]
    assert "digits 0-9" in line and "Traceback" not in said, said


def test_a_bot_of_the_config_takes_the_digits_0_9_only(tmp_path, capsys) -> None:
    end = 'arb_max_cycle_notional_usd = "500"'
    bot = ('\n\n[[bots]]\nname = "alpha"\nmax_order_usd = "٥٠"\nmax_position_usd = "100"\n'
           'daily_loss_usd = "20"')  # fmt: skip
    assert main(["config", "check", str(_written(tmp_path, end, end + bot))]) == 2
    said = capsys.readouterr().err.strip()
    [line] = [x for x in said.splitlines() if "max_order_usd" in x]
    assert "digits 0-9" in line and "Traceback" not in said, said


# Decimal() reads "1_0" as 10 (Python's digit grouping): a typo for 1.0 was a limit ten times
# higher; a TOML number may still group its digits (1_000), as TOML defines
@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('price_band_pct = "10"', 'price_band_pct = "1_0"', "risk.price_band_pct"),
        ('max_unwind_loss_usd = "5"', 'max_unwind_loss_usd = "0_5"', "max_unwind_loss_usd"),
    ],
)  # fmt: skip
def test_a_number_string_grouping_digits_with_underscores_is_refused(
    tmp_path, capsys, old, new, named
) -> None:
    assert main(["config", "check", str(_written(tmp_path, old, new))]) == 2
    said = capsys.readouterr().err.strip()
    [line] = [x for x in said.splitlines() if named in x]
    assert "'_'" in line and "Traceback" not in said, said
    grouped = _written(tmp_path, "max_trades_per_day = 10", "max_trades_per_day = 1_0")
    assert main(["config", "check", str(grouped)]) == 0


# A venue's balances and a strategy's own params took such digits: `USDT = "１００００"` started
# a paper account of 10000 and `order_usd = "٩٠"` or `"9_0"` traded 90 USD an entry
@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('balances = { USDT = "10000" }', 'balances = { USDT = "１００００" }', "[USDT]"),
        ('order_usd = "90"', 'order_usd = "٩٠"', "[order_usd]"),
        ('order_usd = "90"', 'order_usd = "9_0"', "[order_usd]"),
        ('stop_loss_pct = "2"', 'stop_loss_pct = "２"', "[stop_loss_pct]"),
    ],
)  # fmt: skip
def test_a_balance_or_strategy_param_in_other_digits_is_refused_naming_it(
    tmp_path, capsys, data_dir, old, new, named
) -> None:
    text = (EXAMPLE.parent / "paper.toml").read_text()
    text = text.replace('path = "candles/', f'path = "{data_dir}/candles/')
    assert old in text, old
    path = tmp_path / "paper.toml"
    path.write_text(text.replace(old, new, 1))
    assert main(["config", "check", str(path)]) == 2
    said = capsys.readouterr().err.strip()
    [line] = [x for x in said.splitlines() if named in x]
    assert "digits 0-9" in line and "Traceback" not in said, said
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 0
