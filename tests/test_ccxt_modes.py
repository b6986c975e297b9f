"""Trading modes: paper by default, live only with confirmation and every limit set."""

from __future__ import annotations

from typing import Any

import pytest

from tradeguard.config import Config, load_config
from tradeguard.model import ConfigError, TradingMode
from tradeguard.venues.modes import check_mode, live_banner, live_confirmed


def _live(**venue: Any) -> Config:
    vc = {"name": "binance", "kind": "ccxt", "exchange": "binance", "sandbox": False,
          "credentials": "binance-main", **venue}  # fmt: skip
    return Config.model_validate({"mode": "live", "venues": [vc], "strategies": []})


def test_paper_is_the_default_mode() -> None:
    config = load_config(None, environ={})
    assert config.mode is TradingMode.PAPER
    check_mode(config, confirm_live=False, environ={})


def test_live_is_refused_without_confirmation() -> None:
    with pytest.raises(ConfigError, match="--confirm-live or set TG_CONFIRM_LIVE=yes"):
        check_mode(_live(), confirm_live=False, environ={})


def test_live_starts_with_the_flag_or_the_environment_variable() -> None:
    check_mode(_live(), confirm_live=True, environ={})
    check_mode(_live(), confirm_live=False, environ={"TG_CONFIRM_LIVE": "yes"})
    assert not live_confirmed(False, {"TG_CONFIRM_LIVE": "true"})


def test_live_is_refused_while_a_risk_limit_is_unlimited() -> None:
    config = _live()
    config.risk.daily_loss_limit_usd = None
    config.risk.max_trades_per_day = None
    with pytest.raises(ConfigError) as info:
        check_mode(config, confirm_live=True, environ={"TG_CONFIRM_LIVE": "yes"})
    assert "risk.max_trades_per_day" in str(info.value)
    assert "risk.daily_loss_limit_usd" in str(info.value)


def test_live_is_refused_on_a_sandbox_venue() -> None:
    with pytest.raises(ConfigError, match="points at a sandbox"):
        check_mode(_live(sandbox=True), confirm_live=True, environ={})
    with pytest.raises(ConfigError, match="points at a sandbox"):
        check_mode(_live(rest_url="http://127.0.0.1:8765"), confirm_live=True, environ={})


def test_sandbox_mode_refuses_a_venue_that_reaches_a_real_exchange() -> None:
    config = _live()
    config.mode = TradingMode.SANDBOX
    with pytest.raises(ConfigError, match="would trade real money"):
        check_mode(config, confirm_live=True, environ={})
    config.venues[0].sandbox = True
    check_mode(config, confirm_live=False, environ={})


def test_live_banner_is_loud_and_names_venues_and_limits() -> None:
    banner = live_banner(_live())
    lines = banner.splitlines()
    assert len(lines) >= 8
    assert "LIVE TRADING: REAL MONEY" in banner
    assert "binance (binance)" in banner
    assert "max order notional:  100 USD" in banner
    assert lines[0] == "!" * 72


def test_paper_and_sandbox_modes_refuse_a_dex_venue_on_a_real_chain(tmp_path) -> None:
    """A uniswap_v2 venue whose RPC is not on this machine would spend real funds: only a local
    chain is allowed outside live mode, whether the URL is in the config or the deployment file."""
    dex = {"router": "0x" + "1" * 40, "factory": "0x" + "2" * 40}
    venue = {"name": "dex", "kind": "uniswap_v2", "credentials": "w", "symbols": ["WETH/USD"]}

    def config(mode: str, **extra: Any) -> Config:
        vc = {**venue, "dex": {**dex, **extra}}
        return Config.model_validate({"mode": mode, "venues": [vc], "strategies": [], "data": []})

    for mode in ("paper", "sandbox"):
        with pytest.raises(ConfigError, match=r"dex \(eth\.example\.org\).*real funds"):
            check_mode(config(mode, rpc_url="https://eth.example.org/v2/KEY"), False, {})
        check_mode(config(mode), False, {})  # the default: http://127.0.0.1:8545
        check_mode(config(mode, rpc_url="http://localhost:8545"), False, {})
    deployment = tmp_path / "chain.json"
    deployment.write_text('{"rpc_url": "https://rpc.example.net", "router": "x", "factory": "y",'
                          ' "tokens": {}}')  # fmt: skip
    on_file = {"deployment_file": str(deployment)}
    with pytest.raises(ConfigError, match=r"rpc\.example\.net"):
        check_mode(config("sandbox", **on_file), False, {})
    deployment.write_text('{"rpc_url": "http://127.0.0.1:8545", "tokens": {}}')
    check_mode(config("sandbox", **on_file), False, {})


def _paper_dex(url: str) -> Config:
    dex = {"router": "0x" + "1" * 40, "factory": "0x" + "2" * 40, "rpc_url": url}
    vc = {"name": "dex", "kind": "uniswap_v2", "credentials": "w", "symbols": ["WETH/USD"]}
    data = {"mode": "paper", "venues": [{**vc, "dex": dex}], "strategies": [], "data": []}
    return Config.model_validate(data)


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1.rpc.example.org/v3/KEY", "https://127.mainnet.example.org/v3/KEY",
     "https://localhost.example.org/v3/KEY"],
)  # fmt: skip
def test_paper_refuses_a_dex_rpc_host_that_only_starts_like_loopback(url: str) -> None:
    """`127.0.0.1.rpc.example.org` is a name any DNS may point at a real chain's node: only a
    loopback address (or localhost itself) counts as this machine."""
    with pytest.raises(ConfigError, match=r"real funds"):
        check_mode(_paper_dex(url), False, {})


def test_paper_takes_a_dex_rpc_on_any_loopback_address() -> None:
    for url in ("http://127.0.0.2:8545", "http://[::1]:8545/x", "http://LOCALHOST:8545"):
        check_mode(_paper_dex(url), False, {})
