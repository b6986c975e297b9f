"""More hostile unlock calendars: each is a one-line error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.cli.main import main

HEADER = "token,unlock_time_utc,amount,pct_of_supply,source_url,note\n"
ROW = '"token":"ETH","unlock_time_utc":"2018-01-15T12:00:00Z","pct_of_supply":1,"source_url":"https://x"'


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "long-note.csv",
            HEADER + "ETH,2018-01-15T12:00:00Z,1,1,https://x," + "a" * 200_000 + "\n",
        ),
        ("long-int.json", "[{" + ROW + ',"amount":' + "9" * 5000 + "}]"),
        ("surrogate.json", "[{" + ROW + ',"amount":1,"note":"\\ud800"}]'),
    ],
    ids=["csv-field-over-128k", "json-int-over-4300-digits", "json-lone-surrogate"],
)
def test_a_hostile_calendar_is_one_line(tmp_path: Path, capsys, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    try:
        code = main(["calendar", "shift", str(path), "--out", str(out), "--by-ms", "1000"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 2, err
