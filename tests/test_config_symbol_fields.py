"""Every symbol a config names follows the one symbol rule of model/instrument.py.

`[[data]].symbol`, `[[strategies]].symbol` and a venue's `symbols` filter were taken as any
string: `config check` called a file valid whose strategy traded 'btc/usdt' with a right-to-left
override and a zero-width space, and whose venue loaded only a 5,000-character "market" and
'../../etc' (so none of the venue's real ones).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError
from tradeguard.model.instrument import SYMBOL_MAX_LEN

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HOSTILE = [
    "btc/usdt",
    "BTC/USDT\u202e",
    "B\u200bTC/USDT",
    "\u0412TC/USDT",
    "../../etc",
    "A" * 5000 + "/USDT",
]


def _paper(tmp_path: Path, data_dir: Path, data: str, strategy: str) -> Path:
    text = (EXAMPLES / "paper.toml").read_text()
    text = text.replace('path = "candles/', f'path = "{data_dir}/candles/', 1)
    head, tail = text.split("[[venues]]", 1)
    head = head.replace('symbol = "BTC/USDT"', f'symbol = "{data}"', 1)
    before, strat = tail.split("[[strategies]]", 1)
    strat = strat.replace('symbol = "BTC/USDT"', f'symbol = "{strategy}"', 1)
    path = tmp_path / "c.toml"
    path.write_text(f"{head}[[venues]]{before}[[strategies]]{strat}", encoding="utf-8")
    return path


def _toml(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


@pytest.mark.parametrize("bad", HOSTILE, ids=["lower", "rtl", "zwsp", "cyrillic", "dots", "long"])
def test_data_and_strategy_symbols_follow_the_symbol_rule(tmp_path, data_dir, bad):
    ok = load_config(_paper(tmp_path, data_dir, "BTC/USDT", "BTC/USDT"))
    assert ok.strategies[0].symbol == "BTC/USDT"  # the example itself is valid
    for data, strategy, field in (
        (_toml(bad), "BTC/USDT", "data.0.symbol"),
        ("BTC/USDT", _toml(bad), "strategies.0.symbol"),
    ):
        with pytest.raises(ConfigError) as err:
            load_config(_paper(tmp_path, data_dir, data, strategy))
        text = str(err.value)
        assert field in text and "BASE/QUOTE" in text and f"at most {SYMBOL_MAX_LEN}" in text, text
        assert len(text) < 1000, len(text)  # a long value is cut, not printed whole


@pytest.mark.parametrize("bad", HOSTILE, ids=["lower", "rtl", "zwsp", "cyrillic", "dots", "long"])
def test_a_sandbox_strategys_symbol_follows_the_symbol_rule(tmp_path, bad):
    # a ccxt venue lists no instruments in the config, so no later check caught it
    text = (EXAMPLES / "triangular_sandbox.toml").read_text()
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("credentials"))
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path).strategies[0].kind == "triangular"
    strat = 'kind = "triangular"'
    path.write_text(text.replace(strat, f'{strat}\nsymbol = "{_toml(bad)}"', 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "strategies.0.symbol" in msg and "BASE/QUOTE" in msg and len(msg) < 1000, msg


@pytest.mark.parametrize("bad", HOSTILE, ids=["lower", "rtl", "zwsp", "cyrillic", "dots", "long"])
def test_a_venues_symbols_filter_follows_the_symbol_rule(tmp_path, bad):
    text = (EXAMPLES / "bots_sandbox.toml").read_text()
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("credentials"))
    good = tmp_path / "good.toml"
    good.write_text(text, encoding="utf-8")
    assert load_config(good).venues[0].symbols == ["BTC/USDT"]
    bad_path = tmp_path / "bad.toml"
    bad_path.write_text(
        text.replace('symbols = ["BTC/USDT"]', f'symbols = ["BTC/USDT", "{_toml(bad)}"]', 1),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad_path)
    msg = str(err.value)
    assert "venues.0.symbols.1" in msg and "BASE/QUOTE" in msg and len(msg) < 1000, msg
