"""`--from`/`--to` of `backtest` and `sweep` take a UTC date or a moment of a day; their help
says so (it said "first day, YYYY-MM-DD" while `2018-01-15T12:00` was taken as noon)."""

from __future__ import annotations

import pytest

from tradeguard.backtest.frames import parse_date
from tradeguard.cli.main import build_parser


def _help_of(command: str, option: str) -> str:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if getattr(a, "choices", None))
    action = next(a for a in sub.choices[command]._actions if option in a.option_strings)
    return str(action.help)


@pytest.mark.parametrize("command", ["backtest", "sweep"])
@pytest.mark.parametrize("option", ["--from", "--to"])
def test_the_window_help_names_every_form_taken(command, option) -> None:
    text = _help_of(command, option)
    assert "YYYY-MM-DD" in text and "THH:MM" in text and "UTC" in text, text
    assert "day" not in text.replace("of a day", ""), text  # not "first day"/"end day" only


def test_the_forms_the_help_names_are_taken() -> None:
    day = parse_date("2018-01-15")
    assert parse_date("2018-01-15T12:00") == day + 12 * 3_600_000
    assert parse_date("2018-01-15T12:00:30") == day + 12 * 3_600_000 + 30_000
