"""Config edges: a sandbox config run as a backtest, a whole table in an error message, mixed-case
DEX symbols for bots."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.cli.main import main
from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError

SANDBOX_CCXT = """\
mode = "sandbox"
[[venues]]
name = "binance"
kind = "ccxt"
rest_url = "http://127.0.0.1:9"
[[strategies]]
id = "ma"
kind = "ma_crossover"
venue = "binance"
symbol = "BTC/USDT"
"""


def test_backtest_of_a_sandbox_config_is_a_clear_error(tmp_path: Path, capsys) -> None:
    # load_config accepts it (a sandbox run streams; it replays no [[data]]) ...
    cfg = tmp_path / "sb.toml"
    cfg.write_text(SANDBOX_CCXT)
    load_config(cfg, environ={})
    # ... run as a backtest, its default data feeds no paper venue: one line, exit 2
    code = main(["backtest", "--config", str(cfg), "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot run as a backtest" in err and "data[0] (the built-in default)" in err
    assert "Traceback" not in err


def test_alerts_model_error_does_not_print_the_ping_url(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(
        '[alerts]\nheartbeat_url = "https://hc-ping.com/SECRET-TOKEN-1234"\n'
        "retry_backoff_s = 10\nretry_backoff_max_s = 5\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})
    assert "SECRET-TOKEN" not in str(err.value)


DEX = """\
mode = "sandbox"
[[venues]]
name = "uni"
kind = "uniswap_v2"
credentials = "wallet"
[venues.dex]
router = "0x0000000000000000000000000000000000000001"
factory = "0x0000000000000000000000000000000000000002"
[venues.dex.tokens]
wstETH = "0x0000000000000000000000000000000000000003"
WETH = "0x0000000000000000000000000000000000000004"
[[strategies]]
id = "s1"
kind = "ma_crossover"
venue = "uni"
symbol = "wstETH/WETH"
"""


def test_a_bot_may_trade_the_dex_pair_a_strategy_trades(tmp_path: Path) -> None:
    cfg = tmp_path / "dex.toml"
    cfg.write_text(DEX)
    load_config(cfg, environ={})  # the strategy on wstETH/WETH loads
    cfg.write_text(DEX + '[[bots]]\nname = "b1"\nvenue = "uni"\nsymbols = ["wstETH/WETH"]\n')
    config = load_config(cfg, environ={})  # mixed-case tokens are symbols as the DEX spells them
    assert config.bots[0].symbols == ["wstETH/WETH"]


def test_holdings_is_refused_as_a_strategy_id(tmp_path: Path) -> None:
    """`holdings` owns the account's spot trades made by hand: a strategy under that id would
    have its fills booked as balances only, its positions never opened."""
    cfg = tmp_path / "h.toml"
    cfg.write_text(SANDBOX_CCXT.replace('id = "ma"', 'id = "holdings"'))
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    text = str(err.value)
    assert "strategies.0.id" in text and "holdings" in text and "choose another id" in text


def test_one_data_file_listed_twice_for_one_symbol_is_refused(tmp_path: Path) -> None:
    """The same [[data]] entry twice replayed every candle twice: the strategy's averages and
    orders differed from the file replayed once (70 orders instead of 68 on 5,000 candles)."""
    text = (Path(__file__).resolve().parents[1] / "examples" / "paper.toml").read_text()
    entry = text[text.index("[[data]]") : text.index("[[venues]]")]
    cfg = tmp_path / "c.toml"
    cfg.write_text(text + "\n" + entry.replace("candles/", "./candles/"))
    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})
    said = str(err.value)
    assert "data[1] (./candles/BTC-PERP_1m_20211231-20220201.csv, BTC/USDT on paper)" in said
    assert "repeats data[0]: every candle would replay twice" in said
    other = entry.replace('symbol = "BTC/USDT"', 'symbol = "ETH/USDT"')
    cfg.write_text(text + "\n" + other)
    with pytest.raises(ConfigError) as err:  # another symbol: not a repeat (an unlisted one)
        load_config(cfg, environ={})
    assert "repeats" not in str(err.value)


def test_one_data_file_twice_with_other_timeframes_is_told_to_list_them_in_one_entry(
    tmp_path: Path,
) -> None:
    """Two entries of one file for two timeframes were told "remove one of them", which dropped
    the bars of the one removed: the timeframes belong in one entry."""
    text = (Path(__file__).resolve().parents[1] / "examples" / "paper.toml").read_text()
    entry = text[text.index("[[data]]") : text.index("[[venues]]")]
    first = entry.replace('venue = "paper"', 'venue = "paper"\ntimeframes = ["5m"]')
    second = entry.replace('venue = "paper"', 'venue = "paper"\ntimeframes = ["1h", "5m"]')
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace(entry, first + "\n" + second))
    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})
    said = str(err.value)
    assert "repeats data[0]: every candle would replay twice" in said, said
    assert "keep one entry with timeframes = ['5m', '1h']" in said, said
