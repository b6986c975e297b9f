"""The unlock calendar: CSV and JSON files validated row by row, with one line per problem."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.strategies.token_unlock import CalendarError, load_calendar, parse_calendar

ROOT = Path(__file__).resolve().parents[1]
HEADER = "token,unlock_time_utc,amount,pct_of_supply,source_url,note"
GOOD = "ETH,2018-01-14T12:00:00Z,3000000,3.1,https://example.com/eth,EXAMPLE"


def _csv(tmp_path: Path, *lines: str) -> Path:
    p = tmp_path / "cal.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_a_good_csv_row_becomes_an_event_in_utc(tmp_path):
    (event,) = load_calendar(_csv(tmp_path, "# a comment", HEADER, GOOD))
    assert event.token == "ETH"
    assert event.unlock_ms == 1515931200000  # 2018-01-14T12:00:00Z
    assert event.when == "2018-01-14T12:00:00Z"
    assert event.amount == Decimal(3000000) and event.pct_of_supply == Decimal("3.1")
    assert event.source_url == "https://example.com/eth" and event.note == "EXAMPLE"


def test_a_time_without_offset_is_taken_as_utc(tmp_path):
    row = GOOD.replace("2018-01-14T12:00:00Z", "2018-01-14 12:00")
    (event,) = load_calendar(_csv(tmp_path, HEADER, row))
    assert event.unlock_ms == 1515931200000


def test_every_bad_row_is_reported_with_its_line_field_and_value(tmp_path):
    path = _csv(
        tmp_path,
        HEADER,
        GOOD,
        "eth!,2018-01-15T00:00:00Z,5,1,https://example.com/x,",
        "ADA,15/01/2018,5,1,https://example.com/x,",
        "ADA,2018-01-15T00:00:00+02:00,5,1,https://example.com/x,",
        "LTC,2018-01-16T00:00:00Z,-5,1,https://example.com/x,",
        "XLM,2018-01-16T00:00:00Z,5,150,https://example.com/x,",
        "TRX,2018-01-16T00:00:00Z,5,1,ftp://example.com/x,",
        "NXT,2018-01-16T00:00:00Z,5",
    )
    with pytest.raises(CalendarError) as err:
        load_calendar(path)
    lines = str(err.value).splitlines()
    assert lines[0] == "unlock calendar has bad rows:"
    text = str(err.value)
    assert f"{path} line 3: token = 'eth!'" in text
    assert f"{path} line 4: unlock_time_utc = '15/01/2018'" in text
    assert f"{path} line 5: unlock_time_utc = '2018-01-15T00:00:00+02:00'" in text
    assert f"{path} line 6: amount = '-5': expected a number above 0" in text
    assert f"{path} line 7: pct_of_supply = '150': expected a number in (0, 100]" in text
    assert f"{path} line 8: source_url = 'ftp://example.com/x'" in text
    assert f"{path} line 9: 3 fields, the header has 6" in text
    assert len(lines) == 8  # the good row raises nothing


def test_a_repeated_token_and_time_is_refused(tmp_path):
    with pytest.raises(CalendarError, match="line 3: ETH at 2018-01-14T12:00:00Z repeats line 2"):
        load_calendar(_csv(tmp_path, HEADER, GOOD, GOOD))


def test_missing_and_unknown_columns_name_the_header(tmp_path):
    with pytest.raises(CalendarError) as err:
        load_calendar(_csv(tmp_path, "token,when,amount,pct_of_supply,source_url", GOOD))
    assert "header (line 1): missing ['unlock_time_utc']; unknown ['when']" in str(err.value)


def test_a_header_without_rows_and_an_empty_file_are_refused(tmp_path):
    with pytest.raises(CalendarError, match="no events"):
        load_calendar(_csv(tmp_path, HEADER))
    with pytest.raises(CalendarError, match="no header and no rows"):
        load_calendar(_csv(tmp_path, "# only a comment"))


def test_missing_file_and_other_suffix_are_one_line_errors(tmp_path):
    with pytest.raises(CalendarError, match="does not exist"):
        load_calendar(tmp_path / "nope.csv")
    with pytest.raises(CalendarError, match=r"expected a \.csv or \.json file, got '\.txt'"):
        load_calendar(tmp_path / "cal.txt")


def test_a_json_calendar_is_read_and_checked_per_event(tmp_path):
    good = {
        "token": "ADA",
        "unlock_time_utc": "2018-01-17T00:00:00Z",
        "amount": 1300000000,
        "pct_of_supply": 5,
        "source_url": "https://example.com/ada",
    }
    p = tmp_path / "cal.json"
    p.write_text(json.dumps({"events": [good]}), encoding="utf-8")
    (event,) = load_calendar(p)
    assert (event.token, event.pct_of_supply) == ("ADA", Decimal(5))
    bad = dict(good, pct_of_supply=0)
    p.write_text(json.dumps([good, bad, "x"]), encoding="utf-8")
    with pytest.raises(CalendarError) as err:
        load_calendar(p)
    assert "event 2: pct_of_supply = '0'" in str(err.value)
    assert "event 3: expected an object, got str" in str(err.value)


def test_many_bad_rows_are_capped_in_the_message():
    rows = "\n".join(f"ETH,2018-01-{d:02d}T00:00:00Z,1,0,https://e.com/x," for d in range(1, 26))
    with pytest.raises(CalendarError) as err:
        parse_calendar(HEADER + "\n" + rows, "cal.csv", "csv")
    assert str(err.value).endswith("... and 5 more")


def test_the_sample_calendar_is_valid_and_labelled_as_examples():
    path = ROOT / "examples" / "unlock_calendar.csv"
    events = load_calendar(path)
    assert {e.token for e in events} >= {"ETH", "ADA", "LTC", "XLM"}
    assert all(e.note.startswith("EXAMPLE") for e in events)
    assert all(e.source_url.startswith("https://example.com/EXAMPLE/") for e in events)
    assert "none is a real token unlock" in path.read_text(encoding="utf-8")
    # inside the window of the bundled BTC-quoted 5-minute candles
    assert all(1515560100000 < e.unlock_ms < 1517287800000 for e in events)


def test_a_deeply_nested_json_calendar_is_a_one_line_error(tmp_path):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(CalendarError, match=r"deep\.json: not valid JSON: nested too deeply"):
        load_calendar(p)


def test_a_calendar_larger_than_the_cap_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    from tradeguard.strategies.token_unlock import calendar

    monkeypatch.setattr(calendar, "MAX_CALENDAR_BYTES", 1_000)
    path = _csv(tmp_path, HEADER, *[GOOD.replace("3000000", str(n)) for n in range(1, 40)])
    with pytest.raises(CalendarError, match=r"cal\.csv: larger than 1,000 bytes"):
        load_calendar(path)


@pytest.mark.parametrize(
    ("when", "by_ms", "needle"),
    [
        ("9999-12-31T23:59:59Z", "280741200000", "outside years 1-9999"),
        ("0001-01-01T00:00:00Z", "-86400000", "outside years 1-9999"),
    ],
)
def test_a_shift_past_the_calendar_years_is_a_one_line_error(tmp_path, capsys, when, by_ms, needle):
    from tradeguard.cli.main import main

    src = _csv(tmp_path, HEADER, GOOD.replace("2018-01-14T12:00:00Z", when))
    out = tmp_path / "out.csv"
    code = main(["calendar", "shift", str(src), "--out", str(out), "--by-ms", by_ms])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_early_year_is_written_with_four_digits_and_reads_back(tmp_path):
    from tradeguard.strategies.token_unlock.calendar import calendar_csv

    (event,) = load_calendar(_csv(tmp_path, HEADER, GOOD.replace("2018", "0999")))
    assert event.when == "0999-01-14T12:00:00Z"
    again = parse_calendar(calendar_csv([event]), "again.csv", "csv")
    assert again == [event]


def test_a_json_note_with_line_breaks_survives_a_shift_to_csv(tmp_path, capsys):
    from tradeguard.cli.main import main

    src = tmp_path / "cal.json"
    row = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    src.write_text(json.dumps([{**row, "note": 'two\r\nlines, "quoted"'}]), encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["calendar", "shift", str(src), "--out", str(out), "--by-ms", "1000"]) == 0
    (event,) = load_calendar(out)
    assert event.note.startswith('two lines, "quoted" [shifted 1000 ms')


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_a_calendar_saved_with_a_byte_order_mark_is_read(tmp_path, suffix):
    # spreadsheet programs save "CSV UTF-8" with a BOM in front of the header
    row = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    text = f"{HEADER}\r\n{GOOD}\r\n" if suffix == "csv" else json.dumps([row])
    path = tmp_path / f"cal.{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (event,) = load_calendar(path)
    assert event.token == "ETH" and event.unlock_ms == 1515931200000


def test_a_deep_json_calendar_is_refused_before_parsing_even_with_a_raised_limit(tmp_path):
    # A library (py_ecc) may raise the recursion limit to 100,000; the C parser would then
    # overflow the stack (a crash). The depth is counted before parsing.
    import subprocess
    import sys

    p = tmp_path / "deep.json"
    p.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    code = (
        "import sys; sys.setrecursionlimit(100_000)\n"
        "from tradeguard.strategies.token_unlock.calendar import CalendarError, load_calendar\n"
        "try:\n    load_calendar(sys.argv[1])\nexcept CalendarError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "nested too deeply (more than 32 levels)" in done.stdout


def test_brackets_inside_a_json_string_do_not_count_as_nesting():
    from tradeguard.strategies.token_unlock.calendar import _too_deep

    note = "[" * 100 + '\\"{' * 50  # brackets and escaped quotes inside one string
    assert not _too_deep(f'[{{"token": "ABC", "note": "{note}"}}]')
    assert _too_deep("[" * 33 + "]" * 33) and not _too_deep("[" * 32 + "]" * 32)


def test_a_json_event_missing_a_field_does_not_hide_the_other_bad_events(tmp_path):
    good = {
        "token": "ADA",
        "unlock_time_utc": "2018-01-17T00:00:00Z",
        "amount": 1300000000,
        "pct_of_supply": 5,
        "source_url": "https://example.com/ada",
    }
    no_amount = {k: v for k, v in good.items() if k != "amount"}
    p = tmp_path / "cal.json"
    p.write_text(
        json.dumps([no_amount, dict(good, pct_of_supply=150), dict(good, when="x")]),
        encoding="utf-8",
    )
    with pytest.raises(CalendarError) as err:
        load_calendar(p)
    text = str(err.value)
    assert "event 1: missing ['amount'] columns" in text
    assert "event 2: pct_of_supply = '150'" in text
    assert "event 3: unknown ['when'] columns" in text


@pytest.mark.parametrize(
    ("column", "value"),
    [("amount", "1_0"), ("amount", "٣٠٠٠"), ("pct_of_supply", "３.1"), ("pct_of_supply", "1__0")],
    ids=["underscore", "arabic-indic", "fullwidth", "double-underscore"],
)
def test_a_number_that_is_not_plain_ascii_digits_is_refused_naming_row_column_value(
    tmp_path, column, value
):
    """Decimal() reads Python's `1_0` and any script's digits; a calendar's figures are the
    digits a person checks against the source, so anything else is refused by name."""
    fields = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    fields[column] = value
    path = _csv(tmp_path, HEADER, ",".join(fields.values()))
    with pytest.raises(CalendarError) as info:
        load_calendar(path)
    assert f"{path} line 2: {column} = {value!r}: expected" in str(info.value)
    assert "ASCII digits" in str(info.value)
    doc = [{**fields, column: value}]
    with pytest.raises(CalendarError, match=f"event 1: {column} = {value!r}"):
        parse_calendar(json.dumps(doc), "cal.json", "json")
