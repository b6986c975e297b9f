"""Mistyped and hostile command lines end in one line naming the input, never a traceback.

Usage and config errors exit 2; a file or address the system refuses exits 1.
"""

from __future__ import annotations

import io
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pty_support import run_in_pty
from tradeguard.cli import main
from tradeguard.cli.common import money
from tradeguard.cli.keys import KeysIO, run_keys
from tradeguard.model.money import fmt

EXE = Path(sys.executable).parent / "tradeguard"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOT_UTF8 = b'mode = "paper"\n# \xff\xfe\xfa\n'


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the command line in-process; return (exit code, stderr), argparse exits included."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _paper_toml(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    text = (EXAMPLES / "paper.toml").read_text(encoding="utf-8")
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "check", "{f}"],
        ["run", "--config", "{f}", "--until-end"],
        ["sandbox", "--config", "{f}", "--port", "0"],
        ["pm", "map", "check", "{f}", "--config", str(EXAMPLES / "paper.toml")],
        ["sweep", "--config", str(EXAMPLES / "paper.toml"), "--grid", "{f}"],
    ],
    ids=["config-check", "run", "sandbox", "pm-map", "sweep-grid"],
)
def test_a_toml_file_that_is_not_utf8_is_named_in_one_line(tmp_path, capsys, argv):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(NOT_UTF8)
    code, err = _run([a.replace("{f}", str(bad)) for a in argv], capsys)
    assert code == 2 and str(bad) in err and "not UTF-8" in err


def test_markets_file_that_is_not_utf8_is_named_in_one_line(tmp_path, capsys):
    bad = tmp_path / "markets.json"
    bad.write_bytes(b"\xdc\x00\xff")
    code, err = _run(["arb", "scan", "--markets", str(bad), "--tickers", str(bad)], capsys)
    assert code == 2 and str(bad) in err and "not UTF-8" in err


def test_a_sandbox_config_with_a_toml_syntax_error_is_named(tmp_path, capsys):
    bad = tmp_path / "sbx.toml"
    bad.write_text('seed = "1\n', encoding="utf-8")
    code, err = _run(["sandbox", "--config", str(bad), "--port", "0"], capsys)
    assert code == 2 and "not valid TOML" in err and str(bad) in err


def test_a_config_path_that_is_a_directory_says_so(tmp_path, capsys):
    code, err = _run(["config", "check", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err


@pytest.mark.parametrize("value", ["NaN", "sNaN", "-Infinity"])
def test_a_non_finite_strategy_param_is_refused_naming_it(tmp_path, capsys, value):
    cfg = _paper_toml(tmp_path, ('order_usd = "90"', f'order_usd = "{value}"'))
    code, err = _run(["config", "check", str(cfg)], capsys)
    assert code == 2 and "order_usd" in err and "[0.01, 10000000]" in err


@pytest.mark.parametrize("flag", ["--speed", "--arb-drift-edge"])
def test_a_sandbox_number_that_is_nan_is_refused(capsys, flag):
    code, err = _run(["sandbox", "--port", "0", flag, "nan"], capsys)
    assert code == 2 and "not a finite number" in err


def test_a_starting_balance_beyond_the_limit_is_refused(tmp_path, capsys):
    cfg = _paper_toml(tmp_path, ('USDT = "10000"', 'USDT = "1e400"'))
    code, err = _run(["config", "check", str(cfg)], capsys)
    assert code == 2 and "balance for USDT" in err and "1,000,000,000,000,000" in err


def test_money_of_any_magnitude_formats_instead_of_raising():
    assert fmt(Decimal("1e30")) == "1,000,000,000,000,000,000,000,000,000,000.00"
    assert fmt(Decimal("NaN")) == "NaN"
    assert money(Decimal("1e27"), 2).endswith(",000.00")
    assert fmt(Decimal("1234.565")) == "1,234.56"  # ties to even, as before


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (('venue = "paper"\n\n[[venues]]', 'venue = "nope"\n\n[[venues]]'), "feeds venue 'nope'"),
        (
            ('venue = "paper"\n\n[[venues]]', 'venue = "paper"\nkind = "trades"\n\n[[venues]]'),
            "data[0].kind = 'trades'",
        ),
        (
            ('venue = "paper"\nsymbol = "BTC/USDT"\n\n[strategies.params]',
             'venue = "paper"\nsymbol = "ETH/USDT"\n\n[strategies.params]'),
            "strategy 'ma_cross' symbol = 'ETH/USDT' is not listed on venue 'paper'",
        ),
        (
            ('symbol = "BTC/USDT"\nvenue = "paper"', 'symbol = "ETH/USDT"\nvenue = "paper"'),
            "data[0].symbol = 'ETH/USDT' is not listed on venue 'paper'",
        ),
    ],
    ids=["unknown-venue", "not-candles", "strategy-symbol", "data-symbol"],
)  # fmt: skip
def test_a_reference_a_paper_run_cannot_serve_is_refused(tmp_path, capsys, edit, needle):
    cfg = _paper_toml(tmp_path, edit)
    code, err = _run(["config", "check", str(cfg)], capsys)
    assert code == 2 and needle in err


def test_backtest_out_that_is_a_file_is_refused(tmp_path, capsys):
    cfg = _paper_toml(tmp_path)
    code, err = _run(["backtest", "--config", str(cfg), "--out", str(cfg)], capsys)
    assert code == 2 and "not a directory" in err
    code, err = _run(["backtest", "--config", str(cfg), "--out", "/proc/no/such"], capsys)
    assert code == 2 and "cannot create it" in err


def test_fills_and_backup_out_that_is_a_directory_are_refused(tmp_path, capsys, monkeypatch):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    code, err = _run(["fills", *db, "--out", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err
    monkeypatch.setenv("TG_BACKUP_PASSPHRASE", "a long enough backup passphrase")
    code, err = _run(["backup", *db, "--out", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written was left beside it


def test_a_vault_path_that_is_a_directory_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TG_MASTER_PASSPHRASE", "correct horse battery staple")
    code, err = _run(["keys", "list", "--vault", str(tmp_path)], capsys)
    assert code == 2 and f"vault {tmp_path} is a folder; point TG_VAULT_PATH / --vault" in err
    assert "chmod" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["orders", "--limit", "99999999999999999999"], "allowed 1..1,000,000"),
        (["serve", "--port", "70000"], "allowed 0..65535"),
        (["serve", "--port", "-1"], "allowed 0..65535"),
        (["run", "--duration", "-1"], "--duration: -1 is out of range"),
        (["run", "--duration", "nan"], "--duration: nan is out of range"),
        (
            ["calendar", "shift", str(EXAMPLES / "unlock_calendar.csv"), "--out", "x.csv",
             "--by-ms", str(10**30)],
            "a century",
        ),
        (
            ["sweep", "--config", str(EXAMPLES / "paper.toml"), "--grid",
             "fast=" + ",".join(map(str, range(2000)))],
            "no such file",
        ),
        (["sandbox", "--port", "0", "--replay", "no-such.csv"], "no such file"),
    ],
    ids=["orders-limit", "port-high", "port-negative", "duration-negative", "duration-nan",
         "calendar-shift", "grid-long", "replay-missing"],
)  # fmt: skip
def test_an_out_of_range_argument_is_a_usage_error(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, err = _run([*argv, *(["--db", "sqlite:///tg.db"] if argv[0] == "orders" else [])], capsys)
    assert code == 2 and needle in err


@pytest.mark.parametrize("name", ["a\x1b[31m\nb", "x" * 65, "  "])
def test_a_token_name_with_control_characters_is_a_usage_error(tmp_path, capsys, name):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    code, err = _run(["token", "create", "--name", name, "--role", "viewer", *db], capsys)
    assert code == 2 and "1 to 64 printable characters" in err


def test_a_sandbox_port_in_use_is_one_line(capsys):
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        code, err = _run(["sandbox", "--port", str(port)], capsys)
    assert code == 1 and "cannot listen" in err and "pick another --port" in err, err


def test_bad_config_under_a_terminal_shows_one_line_and_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(NOT_UTF8)
    code, screen = run_in_pty(
        [str(EXE), "run", "--config", str(bad), "--until-end"], cwd=tmp_path, timeout_s=120
    )
    assert code == 2, screen
    assert "Traceback" not in screen and "not UTF-8" in screen


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--metric", "nope", "--no-ray"], "--metric = 'nope': not a metric; one of"),
        (["--top", "0", "--no-ray"], "--top: 0 is out of range; allowed 1..1,000,000"),
        (["--ray-address", "garbage:::"], "--ray-address 'garbage:::'"),
        (["--out", str(EXAMPLES / "paper.toml"), "--no-ray"], "not a directory"),
    ],
    ids=["metric", "top", "ray-address", "out-file"],
)
def test_a_bad_sweep_option_is_a_usage_error(tmp_path, capsys, monkeypatch, extra, needle):
    monkeypatch.chdir(tmp_path)
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategies.*.params.fast" = [8, 12]\n', encoding="utf-8")
    argv = ["sweep", "--config", str(EXAMPLES / "paper.toml"), "--grid", str(grid), *extra]
    code, err = _run(argv, capsys)
    assert code == 2 and needle in err
    assert not list(tmp_path.rglob("metrics.json"))  # refused before any backtest ran


def test_a_grid_file_naming_an_unknown_metric_is_refused(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text('metric = "profit"\n[grid]\n"strategies.*.params.fast" = [8]\n', "utf-8")
    argv = ["sweep", "--config", str(EXAMPLES / "paper.toml"), "--grid", str(grid), "--no-ray"]
    code, err = _run(argv, capsys)
    assert code == 2 and "metric = 'profit': not a metric" in err


def test_a_bot_on_a_venue_the_config_lacks_is_refused(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    limits = ["--max-order-usd", "50", "--max-position-usd", "100", "--daily-loss-usd", "20"]
    code, err = _run(["bot", "add", "alpha", *limits, "--venue", "binanse", *db], capsys)
    assert code == 2 and "--venue 'binanse' is not a venue of the config" in err
    assert main(["bot", "list", "--json", *db]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == []  # nothing saved


@pytest.mark.parametrize(
    ("stdin", "needle"),
    [
        ("api_key=\udcff\udcfe\nsecret=abc\n", "not UTF-8 text or control characters"),
        ("api_key=a\x1b[2Jb\nsecret=abc\n", "not UTF-8 text or control characters"),
        ("api_key=" + "a" * 20_000 + "\n", "20,000 characters long; allowed at most 16,384"),
    ],
    ids=["not-utf8", "control", "huge"],
)
def test_a_credential_that_cannot_be_an_exchange_key_is_refused_unstored(tmp_path, stdin, needle):
    vault = tmp_path / "v.vault"
    err = io.StringIO()
    kio = KeysIO(
        env={"TG_MASTER_PASSPHRASE": "correct horse battery staple"},
        stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    argv = ["keys", "add", "main", "--venue", "binance", "--stdin", "--vault", str(vault)]
    assert run_keys(argv, kio) == 2  # bad input, checked before any vault is opened or made
    assert needle in err.getvalue() and "\udcff" not in err.getvalue()
    assert not vault.exists()  # nothing stored: not even an empty vault was made


def test_a_bad_environment_override_names_the_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TG_RISK__MAX_ORDER_NOTIONAL_USD", "abc")
    code, err = _run(["config", "check", str(EXAMPLES / "paper.toml")], capsys)
    assert code == 2
    assert "risk.max_order_notional_usd = 'abc' (set by $TG_RISK__MAX_ORDER_NOTIONAL_USD)" in err
    monkeypatch.delenv("TG_RISK__MAX_ORDER_NOTIONAL_USD")
    cfg = _paper_toml(tmp_path, ('max_order_notional_usd = "100"', 'max_order_notional_usd = "-1"'))
    code, err = _run(["config", "check", str(cfg)], capsys)
    assert code == 2 and "set by" not in err  # a value from the file names no variable


def test_strategy_new_into_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken.txt"
    target.write_text("x", encoding="utf-8")
    code, err = _run(["strategy", "new", "mine", "--dir", str(target)], capsys)
    assert code == 2 and "not a directory" in err


def test_totp_setup_for_an_unknown_token_fails_before_asking_a_passphrase(tmp_path):
    code, screen = run_in_pty(
        [str(EXE), "token", "totp-setup", "--name", "nope", "--db", f"sqlite:///{tmp_path}/t.db"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "TG_MASTER_PASSPHRASE"},
        timeout_s=60,
    )
    assert code == 2 and "unknown token 'nope'" in screen
    assert "passphrase" not in screen.lower()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--symbols", ",,,;"], "symbol ';' is not BASE/QUOTE"),
        (["--symbols", "btc/usdt"], "symbol 'btc/usdt' is not BASE/QUOTE"),
        (["--sizing", '{"kind": "fixed", "usd": 5}'], "unknown key(s) ['usd'] for kind = 'fixed'"),
        (["--sizing", '{"kind": "linear", "min_score": 0, "max_score": 1, "min_usd": 1, '
                      '"max_usd": 2, "maxusd": 3}'], "unknown key(s) ['maxusd']"),
        # the last of two was taken: 40 USD a trade where the operator read 2
        (["--sizing", '{"kind": "linear", "min_score": "0", "max_score": "1", "min_usd": "1", '
                      '"max_usd": "2", "max_usd": "40"}'], '--sizing names "max_usd" twice'),
        # the parser's own limits ended in a traceback
        (["--sizing", "[" * 30_000 + "]" * 30_000], "--sizing is not JSON: nested deeper"),
        (["--sizing", '{"kind": ' + "1" * 5000 + "}"], "a number of more than 4300 digits"),
    ],
    ids=["symbols-junk", "symbols-lower", "sizing-fixed", "sizing-linear", "sizing-key-twice",
         "sizing-deep", "sizing-long-number"],
)  # fmt: skip
def test_a_bot_symbol_or_sizing_key_that_would_be_ignored_is_refused(
    tmp_path, capsys, extra, needle
):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    limits = ["--max-order-usd", "50", "--max-position-usd", "100", "--daily-loss-usd", "20"]
    code, err = _run(["bot", "add", "alpha", *limits, *extra, *db], capsys)
    assert code == 2 and needle in err


def test_a_config_bot_with_a_misshapen_symbol_is_refused(tmp_path, capsys):
    cfg = _paper_toml(tmp_path)
    with cfg.open("a", encoding="utf-8") as fh:
        fh.write('\n[[bots]]\nname = "alpha"\nsymbols = ["btc-usdt"]\n')
    code, err = _run(["config", "check", str(cfg)], capsys)
    assert code == 2 and "bots.0.symbols.0 = 'btc-usdt'" in err and "must be BASE/QUOTE" in err, err


@pytest.mark.parametrize("command", ["status", "orders", "positions", "balances", "fills"])
def test_a_read_command_on_a_missing_database_file_says_so_and_creates_nothing(
    tmp_path, capsys, command
):
    target = tmp_path / "typo.db"
    code, err = _run([command, "--db", f"sqlite:///{target}"], capsys)
    assert code == 1 and f"no database file at {target}" in err
    assert len(err.strip().splitlines()) == 1
    assert not target.exists()


def test_a_bot_symbol_over_the_limit_is_named_cut_not_printed_whole(tmp_path, capsys):
    # a 20,000-character --symbols value came back whole in the error, a screenful per line
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    limits = ["--max-order-usd", "50", "--max-position-usd", "100", "--daily-loss-usd", "20"]
    long = "A" * 20_000 + "/USDT"
    code, err = _run(["bot", "add", "alpha", *limits, "--symbols", long, *db], capsys)
    assert code == 2 and "symbol 'AAAA" in err and "(20005 characters)" in err, err[:400]
    assert "at most 200 characters" in err and len(err) < 600, len(err)
