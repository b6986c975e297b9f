"""Every `TG_…` variable the project reads for itself is left out of the config's overrides.

A user who exports `TG_API_URL` for `pm arb retry`, or `TG_NEW_MASTER_PASSPHRASE` for
`keys rotate-master`, must still be able to load every config: such a variable read as the
override of a key `api_url` made each command refuse the config ("unknown key").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tradeguard.config import load_config
from tradeguard.config_env import override_paths

SRC = Path(__file__).resolve().parents[1] / "src" / "tradeguard"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "paper.toml"


def _own_variables() -> list[str]:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        names.update(re.findall(r"[\"'](TG_[A-Z0-9_]+)[\"']", path.read_text()))
    return sorted(n for n in names if "__" not in n and n != "TG_")


def test_the_source_reads_the_variables_this_test_walks():
    own = _own_variables()
    assert {"TG_API_URL", "TG_NEW_MASTER_PASSPHRASE", "TG_DATA_DIR"} <= set(own), own


@pytest.mark.parametrize("name", _own_variables())
def test_a_variable_the_project_reads_is_no_config_override(name, monkeypatch):
    assert name not in override_paths({name: "x"})
    monkeypatch.setenv(name, "http://127.0.0.1:8000" if name == "TG_API_URL" else "x")
    config = load_config(EXAMPLE)
    assert config.mode is not None


def test_a_mistyped_override_is_still_refused(monkeypatch):
    monkeypatch.setenv("TG_RISK__MAX_ORDER_NOTIONAL_UDS", "5")
    with pytest.raises(Exception, match="TG_RISK__MAX_ORDER_NOTIONAL_UDS"):
        load_config(EXAMPLE)
