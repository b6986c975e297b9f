"""ccxt's exchange ids, read from its package without importing it, are ccxt's own list."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tradeguard.venues import ccxt_ids


def test_the_ids_read_without_importing_ccxt_are_ccxts_list(monkeypatch):
    monkeypatch.delitem(sys.modules, "ccxt", raising=False)  # read from the file, not asked
    read = ccxt_ids.ccxt_exchange_ids()
    monkeypatch.undo()
    import ccxt

    assert read == frozenset(ccxt.exchanges) and "binance" in read and "kraken" in read


def test_a_package_without_a_readable_list_is_asked(monkeypatch, tmp_path):
    odd = tmp_path / "__init__.py"
    odd.write_text("exchanges = sorted(['binance'])\n")  # no literal list to read
    spec = importlib.util.spec_from_file_location("ccxt", odd)
    monkeypatch.setattr(ccxt_ids.importlib.util, "find_spec", lambda name: spec)
    monkeypatch.delitem(sys.modules, "ccxt", raising=False)
    assert ccxt_ids._listed_ids() is None
    monkeypatch.undo()
    import ccxt

    assert ccxt_ids.ccxt_exchange_ids() == frozenset(ccxt.exchanges)


@pytest.mark.parametrize(
    "later",
    [
        "exchanges += ['added']\n",
        "exchanges.append('added')\n",
        "exchanges = exchanges + ['added']\n",
        "exchanges[:0] = ['added']\n",
        "from ccxt.more import exchanges\n",
        "exchanges = ['added', 'binance']\n",
    ],
)
def test_a_list_changed_after_its_literal_is_not_taken_for_ccxts(monkeypatch, tmp_path, later):
    # The literal is only where ccxt's list starts: a file that extends or rebinds it later
    # would have config check refuse an exchange ccxt offers (or pass one it dropped).
    odd = tmp_path / "__init__.py"
    odd.write_text(f"exchanges = [\n    'binance',\n]\n{later}")
    spec = importlib.util.spec_from_file_location("ccxt", odd)
    monkeypatch.setattr(ccxt_ids.importlib.util, "find_spec", lambda name: spec)
    assert ccxt_ids._listed_ids() is None


def test_a_list_only_read_later_is_still_taken(monkeypatch, tmp_path):
    odd = tmp_path / "__init__.py"
    odd.write_text(
        "base = ['Exchange']\nexchanges = [\n    'binance',\n]\n__all__ = base + exchanges\n"
    )
    spec = importlib.util.spec_from_file_location("ccxt", odd)
    monkeypatch.setattr(ccxt_ids.importlib.util, "find_spec", lambda name: spec)
    assert ccxt_ids._listed_ids() == frozenset({"binance"})
