"""What one Uniswap V2 venue is configured with: addresses, tokens, caps."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Token:
    symbol: str
    address: str
    decimals: int = 18
    # the token keeps part of every transfer: what the wallet receives short of the pair's Swap
    # log is booked as its fee (venues.dex.fee_on_transfer); any other shortfall is a lie
    fee_on_transfer: bool = False


@dataclass(frozen=True, slots=True)
class DexSettings:
    """Addresses and limits of one DEX account; amounts in token units, fees in gwei."""

    rpc_url: str
    router: str
    factory: str
    tokens: dict[str, Token]
    symbols: list[str]
    chain_id: int | None = None  # the RPC must answer this chain id at connect; None: any
    slippage_bps: int = 50
    deadline_s: int = 120
    max_fee_per_gas_gwei: Decimal = Decimal(50)
    priority_fee_gwei: Decimal = Decimal(1)
    gas_limit: int = 0  # 0: estimate each transaction (a revert is refused before signing)
    approve_unlimited: bool = False
    max_tx_value: Decimal = Decimal(0)  # in the pair's quote asset; 0 = no cap
    receipt_timeout_s: float = 30.0
    stuck_after_s: float = 120.0
    fee_bump_pct: Decimal = Decimal(15)
    confirmations: int = 1  # blocks on top of a swap's (its own included) before it is booked
    quote_poll_s: float = 1.0  # how often new blocks are looked at for Sync events
    quote_refresh_s: float = 15.0  # reserves re-read this often, quiet pools included
    # a swap is refused when the pool's price is this far off its time-weighted price
    max_pool_deviation_pct: Decimal = Decimal(5)
    twap_window_s: int = 300  # over about this many seconds (pool_guard.py)
    # and this far off another venue's mark: pool symbol -> (venue, symbol) (reference.py)
    reference_marks: dict[str, tuple[str, str]] = field(default_factory=dict)
    gas_asset: str = "ETH"
    pairs: dict[str, str] = field(default_factory=dict)  # symbol -> pair address, else factory

    def token(self, symbol: str) -> Token:
        try:
            return self.tokens[symbol]
        except KeyError:
            raise ValueError(
                f"token {symbol!r} has no address; configured tokens: {sorted(self.tokens)}"
            ) from None
