"""Trading modes: paper by default, sandbox before real money, live only on explicit opt-in.

```python
check_mode(config, confirm_live=args.confirm_live, environ=os.environ)  # raises ConfigError
if config.mode is TradingMode.LIVE:
    print(live_banner(config))
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradeguard.model.enums import TradingMode
from tradeguard.model.errors import ConfigError

CONFIRM_ENV = "TG_CONFIRM_LIVE"


def live_confirmed(confirm_live: bool, environ: Mapping[str, str]) -> bool:
    """Tell whether live trading is confirmed (`--confirm-live` or TG_CONFIRM_LIVE=yes)."""
    return confirm_live or environ.get(CONFIRM_ENV, "").strip().lower() == "yes"


_EXCHANGE_KINDS = ("ccxt", "kalshi", "polymarket")


def _reaches_real_exchange(vc: Any) -> bool:
    """Tell whether the venue would trade on a real exchange (a data-only one never trades)."""
    return (
        vc.kind in _EXCHANGE_KINDS and not vc.sandbox and not vc.rest_url
        and not vc.data_only
    )  # fmt: skip


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _real_chain_host(vc: Any, config: Any) -> str | None:
    """A DEX venue's JSON-RPC host when it is not this machine (a real chain), else None; only
    the host is named, as an RPC URL may carry a key in its path."""
    from urllib.parse import urlsplit

    if vc.kind != "uniswap_v2" or vc.dex is None:
        return None
    url = str(vc.dex.chain_url(getattr(config, "source_dir", None)))
    host = (urlsplit(url).hostname or "").lower()
    return None if _loopback(host) else host or url.split(":")[0]


def _loopback(host: str) -> bool:
    """Tell whether `host` is this machine: localhost or a loopback address, never a name that
    merely starts like one (127.0.0.1.example.org resolves wherever its DNS says)."""
    import ipaddress

    if host in _LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dex_live_problems(vc: Any) -> list[str]:
    """What a uniswap_v2 venue lacks for live trading: the wallet key from the vault, the chain
    id the RPC must answer, an explicit RPC URL, router, factory and token addresses (no local
    chain's deployment file), and explicit per-transaction and gas price caps."""
    where = f"venue {vc.name!r}"
    if not vc.credentials:
        return [
            f"{where} has no credentials; the wallet key must come from the vault: set "
            "credentials to an entry holding private_key (tradeguard keys add NAME --venue "
            "uniswap_v2 --stdin)"
        ]
    dex = vc.dex
    if dex is None:
        return [f"{where} (kind uniswap_v2) has no [venues.dex] table"]
    given = dex.model_fields_set
    out: list[str] = []
    if dex.deployment_file is not None:
        out.append(
            f"{where}: venues.dex.deployment_file={dex.deployment_file!r} is a local chain's; "
            "live takes rpc_url, router, factory and tokens written in the config: remove it"
        )
    if dex.chain_id is None:
        out.append(
            f"{where}: venues.dex.chain_id is unset; live needs the chain id the RPC must "
            "answer at start (eth_chainId, an integer >= 1, e.g. 1 for Ethereum)"
        )
    if "rpc_url" not in given:
        out.append(
            f"{where}: venues.dex.rpc_url is unset (the default {dex.rpc_url} is a local "
            "chain's); give the RPC URL of the chain to trade on"
        )
    for field in ("router", "factory"):
        if getattr(dex, field) is None:
            out.append(f"{where}: venues.dex.{field} is unset; live needs its address (0x…)")
    wanted = sorted({t for s in vc.symbols for t in s.split("/")})
    missing = [t for t in wanted if t not in dex.tokens]
    if missing:
        out.append(
            f"{where}: venues.dex.tokens has no address for {missing} (tokens of symbols "
            f"{list(vc.symbols)}); live needs each written in the config"
        )
    if "max_tx_value" not in given or dex.max_tx_value <= 0:
        out.append(
            f"{where}: venues.dex.max_tx_value={dex.max_tx_value} (no cap); live needs a "
            "per-transaction cap > 0, in the pair's quote asset"
        )
    if "max_fee_per_gas_gwei" not in given:
        out.append(
            f"{where}: venues.dex.max_fee_per_gas_gwei is unset (default "
            f"{dex.max_fee_per_gas_gwei}); live needs it written (0 < cap <= 10000 gwei)"
        )
    return out


def check_mode(config: Any, confirm_live: bool, environ: Mapping[str, str]) -> None:
    """Refuse a config whose mode and venues disagree, or live trading without every safeguard."""
    mode = TradingMode(config.mode)
    if mode is not TradingMode.LIVE:
        chains = {vc.name: h for vc in config.venues if (h := _real_chain_host(vc, config))}
        if chains:
            hosts = ", ".join(f"{name} ({host})" for name, host in chains.items())
            raise ConfigError(
                f"mode={mode.value!r} but DEX venue(s) {hosts} send swaps to a chain that is "
                "not on this machine, so they would spend real funds; in paper and sandbox modes "
                "a uniswap_v2 venue trades only on a local chain (tradeguard chain, rpc_url on "
                "127.0.0.1)"
            )
        real = [vc.name for vc in config.venues if _reaches_real_exchange(vc)]
        if real:
            raise ConfigError(
                f"mode={mode.value!r} but venue(s) {real} have sandbox = false and no rest_url, "
                "so they would trade real money; set sandbox = true (testnet) or rest_url (the "
                "local sandbox), data_only = true to read its market data only, or switch to "
                'mode = "live" with --confirm-live'
            )
        return
    problems: list[str] = []
    if not live_confirmed(confirm_live, environ):
        problems.append(
            f"live trading is not confirmed: pass --confirm-live or set {CONFIRM_ENV}=yes"
        )
    unset = list(config.risk.unset_limits())
    if unset:
        problems.append(
            "risk limits are unset (unlimited): "
            + ", ".join(f"risk.{k}" for k in unset)
            + "; give each a value"
        )
    if not config.venues:
        problems.append('no venue is configured; add a [[venues]] entry with kind = "ccxt"')
    for vc in config.venues:
        if vc.kind == "uniswap_v2":
            problems.extend(dex_live_problems(vc))
        elif vc.kind not in _EXCHANGE_KINDS:
            problems.append(
                f"venue {vc.name!r} is kind={vc.kind!r}; live needs kind = ccxt, kalshi, "
                "polymarket or uniswap_v2"
            )
        elif vc.sandbox or vc.rest_url:
            problems.append(
                f"venue {vc.name!r} points at a sandbox (sandbox={vc.sandbox}, "
                f"rest_url={vc.rest_url!r}); set sandbox = false and remove rest_url for live"
            )
        elif not vc.credentials:
            problems.append(
                f"venue {vc.name!r} has no credentials; set credentials to a vault entry name"
            )
    if problems:
        raise ConfigError(
            'refusing to start in mode = "live":\n' + "\n".join(f"  - {p}" for p in problems)
        )


def live_banner(config: Any) -> str:
    """Return the loud multi-line banner printed before live trading starts."""
    bar = "!" * 72
    venues = ", ".join(f"{vc.name} ({_kind(vc)})" for vc in config.venues) or "none"
    risk = config.risk
    lines = [
        bar,
        "!!" + "LIVE TRADING: REAL MONEY".center(68) + "!!",
        bar,
        f"  venues:              {venues}",
        *[line for vc in config.venues if vc.kind == "uniswap_v2" for line in _dex_lines(vc)],
        f"  max order notional:  {risk.max_order_notional_usd} USD",
        f"  daily loss limit:    {risk.daily_loss_limit_usd} USD / {risk.daily_loss_limit_pct}%",
        f"  max drawdown:        {risk.max_drawdown_pct}%",
        f"  max trades per day:  {risk.max_trades_per_day}",
        "  stop now: `tradeguard kill` (cancels every order and halts the node)",
        bar,
    ]
    return "\n".join(lines)


def _kind(vc: Any) -> str:
    # `exchange` is a ccxt (or paper) venue's; a kalshi or polymarket venue is its own kind
    return str(vc.exchange) if vc.kind in ("ccxt", "paper") else str(vc.kind)


def _dex_lines(vc: Any) -> list[str]:
    """A DEX venue's chain, endpoint (host only), router and caps; its wallet address is
    printed once the key is read from the vault."""
    dex = vc.dex
    if dex is None:
        return []
    return [
        f"  {vc.name} chain id:        {dex.chain_id} via {dex.rpc_host()}",
        f"  {vc.name} router:          {dex.router}",
        f"  {vc.name} caps:            max_tx_value {dex.max_tx_value} per swap, "
        f"max_fee_per_gas {dex.max_fee_per_gas_gwei} gwei, slippage {dex.slippage_bps} bps",
        f"  {vc.name} approvals:       "
        + (
            "UNLIMITED (approve_unlimited = true): the router may take every token held"
            if dex.approve_unlimited
            else "exact, each swap's amount only"
        ),
        f"  {vc.name} wallet:          key from vault entry {vc.credentials!r}",
    ]
