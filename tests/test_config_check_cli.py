"""`tradeguard config check` refuses every config `run` refuses, and says why in one line each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tradeguard.cli import main

BAD = {
    "unknown kind": ('kind = "nope"', "unknown strategy kind 'nope'"),
    "negative fast": ("params = { fast = -5, slow = 20 }", "fast = -5"),
    "misspelt param": ("params = { fsat = 5, slow = 20 }", "['fsat']"),
    "fast not below slow": ("params = { fast = 30, slow = 20 }", "fast = 30 must be below slow"),
    "cycle too long": ('kind = "triangular"\nparams = { max_cycle = 7 }', "max_cycle = 7"),
    # The risk check refused every cycle of that size: a node that never traded, "valid".
    "cycle above the cycle cap": (
        'kind = "triangular"\nparams = { exec = { max_size_usd = "500" } }',
        "params.exec.max_size_usd = 500 is above risk.arb_max_cycle_notional_usd = 100",
    ),
}


def _config(tmp_path: Path, strategy: str, data: str) -> str:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"""
[node]
database_url = "sqlite:///{tmp_path / "tg.db"}"
[[data]]
path = "{data}"
[[venues]]
name = "paper"
kind = "paper"
balances = {{ USDT = "1000" }}
[[strategies]]
id = "s1"
venue = "paper"
symbol = "BTC/USDT"
{strategy}
"""
    )
    return str(cfg)


@pytest.mark.parametrize("case", sorted(BAD))
def test_config_check_refuses_what_run_refuses(case, tmp_path, data_dir, capsys):
    strategy, expected = BAD[case]
    cfg = _config(tmp_path, strategy, str(data_dir / "candles/BTC-PERP_1m_20211231-20220201.csv"))
    assert main(["config", "check", cfg]) == 2
    err = capsys.readouterr().err
    assert expected in err and "strategies[s1]" in err and "Traceback" not in err
    assert main(["run", "--config", cfg, "--until-end"]) == 2
    assert expected in capsys.readouterr().err


def test_config_check_names_a_missing_data_file(tmp_path, capsys):
    cfg = _config(tmp_path, 'params = { fast = 5, slow = 20, order_usd = "90" }', "gone.csv")
    assert main(["config", "check", cfg]) == 2
    err = capsys.readouterr().err
    assert "data[0].path = 'gone.csv': no such file" in err


def test_config_check_names_an_unknown_ccxt_exchange(tmp_path, data_dir, capsys, monkeypatch):
    cfg = Path(_config(tmp_path, "", str(data_dir / "candles/BTC-PERP_1m_20211231-20220201.csv")))
    text = cfg.read_text().replace('kind = "paper"', 'kind = "ccxt"\nexchange = "binanse"')
    cfg.write_text(text.replace('mode = "paper"', ""))
    assert main(["config", "check", str(cfg)]) == 2
    assert "exchange = 'binanse' is not a ccxt exchange" in capsys.readouterr().err


def test_config_check_passes_a_good_config_without_trading(tmp_path, data_dir, capsys):
    csv = str(data_dir / "candles/BTC-PERP_1m_20211231-20220201.csv")
    cfg = _config(tmp_path, 'params = { fast = 5, slow = 20, order_usd = "90" }', csv)
    assert main(["config", "check", cfg]) == 0
    assert "valid (paper mode, 1 venue(s), 1 strategy)" in capsys.readouterr().out
    assert not (tmp_path / "tg.db").exists()


def test_a_relative_data_path_is_found_next_to_the_config_file(
    tmp_path, data_dir, capsys, monkeypatch
):
    folder = tmp_path / "conf"
    folder.mkdir()
    rows = (data_dir / "candles/BTC-PERP_1m_20211231-20220201.csv").read_text().splitlines()
    (folder / "btc.csv").write_text("\n".join(rows[:200]) + "\n")
    cfg = _config(folder, 'params = { fast = 5, slow = 20, order_usd = "90" }', "btc.csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["config", "check", cfg]) == 0, capsys.readouterr().err
    assert main(["run", "--config", cfg, "--until-end"]) == 0
    out = capsys.readouterr().out  # the 199 candles of the file beside the config
    assert re.search(r"Candles replayed \(this run\)\W+199\b", out), out


def test_config_check_names_scheduled_backups_without_their_passphrase(
    tmp_path, data_dir, capsys, monkeypatch
):
    csv = str(data_dir / "candles/BTC-PERP_1m_20211231-20220201.csv")
    cfg = Path(_config(tmp_path, 'params = { fast = 5, slow = 20, order_usd = "90" }', csv))
    cfg.write_text(cfg.read_text().replace("[node]\n", "[node]\nbackup_interval_s = 3600\n"))
    monkeypatch.delenv("TG_BACKUP_PASSPHRASE", raising=False)
    assert main(["config", "check", str(cfg)]) == 2
    assert "node.backup_interval_s = 3600 but TG_BACKUP_PASSPHRASE is not set" in (
        capsys.readouterr().err
    )
    monkeypatch.setenv("TG_BACKUP_PASSPHRASE", "correct horse battery staple")
    assert main(["config", "check", str(cfg)]) == 0


def test_config_check_refuses_the_mode_and_venue_mismatches_run_refuses(tmp_path, data_dir, capsys):
    """A sandbox config on a real exchange, and a live one on a testnet: `run` refuses both
    before trading, so `config check` names them too."""
    cfg = Path(_config(tmp_path, "", str(data_dir / "candles/BTC-PERP_1m_20211231-20220201.csv")))
    base = cfg.read_text().split("[[strategies]]")[0]
    venue = 'kind = "ccxt"\nexchange = "binance"\nsandbox = false\ncredentials = "main"'
    cfg.write_text('mode = "sandbox"\n' + base.replace('kind = "paper"', venue))
    assert main(["config", "check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "have sandbox = false and no rest_url, so they would trade real money" in err
    assert main(["run", "--config", str(cfg)]) == 2
    assert "would trade real money" in capsys.readouterr().err
    testnet = venue.replace("sandbox = false", "sandbox = true")
    cfg.write_text('mode = "live"\n' + base.replace('kind = "paper"', testnet))
    assert main(["config", "check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "mode = 'live': venue 'paper' points at a sandbox (sandbox=True" in err, err
    assert "not confirmed" not in err  # --confirm-live is given to `run`, not the file


def test_a_file_that_is_not_a_config_gets_short_lines(capsys):
    """`config check examples/pm_map.toml` (a market map): each refused key in one short line."""
    root = Path(__file__).resolve().parents[1]
    assert main(["config", "check", str(root / "examples" / "pm_map.toml")]) == 2
    err = capsys.readouterr().err
    assert "pairs = '[… 3 entries]': Extra inputs are not permitted" in err, err
    assert max(len(line) for line in err.splitlines()) < 160, err


@pytest.mark.parametrize("key", ["api_key", "apiSecret", "private_key", "passphrase", "mnemonic"])
def test_a_credential_under_an_unknown_key_is_refused_without_being_echoed(
    key, tmp_path, data_dir, capsys
):
    # A plain-text key pasted into the config was printed back to the terminal (and CI logs).
    root = Path(__file__).resolve().parents[1]
    base = (root / "examples" / "paper.toml").read_text()
    cfg = tmp_path / "tg.toml"
    secret = "SuperSecretValue123456"
    cfg.write_text(base.replace('kind = "paper"\n', f'kind = "paper"\n{key} = "{secret}"\n', 1))
    assert main(["config", "check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert secret not in err
    assert (
        f"venues.0.{key} = (not shown): unknown key; credentials live in the vault "
        '(tradeguard keys add NAME) and [[venues]] credentials = "NAME" names them'
    ) in " ".join(err.split()), err


def test_an_unknown_key_names_the_keys_its_table_takes(tmp_path, data_dir, capsys):
    # `timeframe` written beside a strategy's id (it belongs in params) was answered with a hint
    # about credentials only, leaving the user to guess where it goes.
    cfg = _config(
        tmp_path,
        'timeframe = "1m"\nparams = { fast = 5, slow = 20, order_usd = "90" }',
        str(data_dir / "candles/BTC-PERP_1m_20211231-20220201.csv"),
    )
    Path(cfg).write_text(Path(cfg).read_text().replace("[node]", "[node]\nlog_formt = 1", 1))
    assert main(["config", "check", cfg]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "strategies.0.timeframe = (not shown): unknown key; credentials live in the vault"
    ) in err, err
    assert (
        "this table takes: bot, enabled, id, kind, order_timeout_s, params, replace_on_timeout, "
        "symbol, venue"
    ) in err, err
    assert "node.log_formt = (not shown)" in err and "log_format" in err, err


def test_a_key_written_under_the_wrong_table_names_the_table_it_belongs_to(
    tmp_path, data_dir, capsys
):
    # An [api] table added between [node] and its keys takes them: the answer was a hint about
    # credentials, for keys everyone can see are not one.
    cfg = _config(
        tmp_path,
        'params = { fast = 5, slow = 20, order_usd = "90" }',
        str(data_dir / "candles/BTC-PERP_1m_20211231-20220201.csv"),
    )
    text = (
        Path(cfg)
        .read_text()
        .replace("[node]\n", '[api]\nport = 18002\nkill_sentinel = "tg.kill"\n[node]\n', 1)
    )
    Path(cfg).write_text(text.replace("[[venues]]\n", '[[venues]]\nsymbol = "BTC/USDT"\n', 1))
    assert main(["config", "check", cfg]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "api.kill_sentinel = (not shown): unknown key here; it is a key of [node]: move it under "
        "that table"
    ) in err, err
    symbol = err[err.index("venues.0.symbol = (not shown): unknown key here; it is a key of ") :]
    assert "[[strategies]]" in symbol.split(": move it under the right one")[0], err
    assert "api.kill_sentinel = (not shown): unknown key; credentials" not in err, err


@pytest.mark.parametrize("url", ["mysql://root:hunter2@127.0.0.1/tg", "tradeguard.db"])
def test_config_check_refuses_a_database_backend_run_cannot_lock(url, tmp_path, capsys):
    # config check called it valid; run then stopped with exit 1 ("no writer lock").
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'mode = "paper"\n[node]\ndatabase_url = "{url}"\n')
    for argv in (["config", "check", str(cfg)], ["run", "--config", str(cfg), "--until-end"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "node.database_url = '(hidden)'" in err and "is not supported" in err
        assert "sqlite:///path/to/file.db" in err and "hunter2" not in err
        assert "Traceback" not in err


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('kalshi_venue = "kalshi"', 'kalshi_venue = "kalshi-data"'),
         "strategies[pmarb]: venue 'kalshi-data' is data_only (market data, no orders)"),
        (('kalshi_venue = "kalshi"', 'kalshi_venue = "polymarket"'),
         "venue and params.kalshi_venue are both 'polymarket'"),
        (('kalshi_venue = "kalshi"', 'kalshi_venue = "kalhsi"'),
         "strategies[pmarb]: venue 'kalhsi' is not configured"),
    ],
)  # fmt: skip
def test_config_check_refuses_a_cross_venue_kalshi_venue_run_refuses(
    change, expected, tmp_path, capsys
):
    """`config check` said "valid" and `pm arb run` then refused at start."""
    text = (EXAMPLES / "pm_arb_paper.toml").read_text()
    assert change[0] in text
    (tmp_path / "pm_map.toml").write_text((EXAMPLES / "pm_map.toml").read_text())
    cfg = tmp_path / "pm.toml"
    cfg.write_text(text.replace(change[0], change[1]))
    assert main(["config", "check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    cfg.write_text(text)
    assert main(["config", "check", str(cfg)]) == 0


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        (
            'max_order_notional_usd = "100"',
            'max_order_notinal_usd = "100"',
            "risk.max_order_notinal_usd = (not shown): unknown key; did you mean "
            "max_order_notional_usd?",
        ),
        (
            "[risk]\n",
            "[risks]\n",
            "risks = '{…}': Extra inputs are not permitted; did you mean [risk]?",
        ),
        (
            "[[strategies]]\n",
            "[[strategie]]\n",
            "strategie = '[… 1 entries]': Extra inputs are not permitted; did you mean "
            "[[strategies]]?",
        ),
    ],
    ids=["risk-key", "risk-table", "strategies-table"],
)
def test_a_misspelt_key_or_table_names_the_one_meant(tmp_path, capsys, old, new, line):
    # A limit's name misspelt was answered with a hint about credentials and 36 key names; a
    # table's name misspelt with "Extra inputs are not permitted" alone.
    root = Path(__file__).resolve().parents[1]
    text = (root / "examples" / "paper.toml").read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    if new.startswith("[[strategie]]"):
        text = text.replace("[strategies.params]", "[strategie.params]", 1)
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    assert main(["config", "check", str(cfg)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert line in err, err
    assert "credentials live in the vault" not in err, err


def test_a_misspelt_pair_limit_names_the_limit_meant(tmp_path, capsys):
    # The pair limits of a cross-venue strategy: a misspelt one said "Extra inputs are not
    # permitted", naming neither the limit meant nor the ones there are.
    root = Path(__file__).resolve().parents[1]
    text = (root / "examples" / "pm_arb_paper.toml").read_text(encoding="utf-8")
    assert '\nmax_position_usd = "200"' in text
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace("\nmax_position_usd =", "\nmax_positon_usd =", 1), encoding="utf-8")
    (tmp_path / "pm_map.toml").write_bytes((root / "examples" / "pm_map.toml").read_bytes())
    assert main(["config", "check", str(cfg)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "strategies[pmarb]: params.limits.max_positon_usd: unknown key; did you mean "
        "max_position_usd?; known keys: ['daily_loss_usd', "
    ) in err, err
