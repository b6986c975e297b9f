"""ccxt's exchange ids, read from its package without importing it, are ccxt's own list."""

from __future__ import annotations

import importlib.util
import sys

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
