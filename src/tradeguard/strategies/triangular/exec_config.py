"""How triangular cycles are executed: `[strategies.params.exec]` of a triangular strategy."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field

from tradeguard.model.config_model import ConfigModel


class TriangularExecConfig(ConfigModel):
    """How cycles are executed (`[strategies.triangular.exec]`); percents are 0-100."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy_id: str = Field(default="triangular", min_length=1)
    # Worst price a leg may take, as % beyond the scanned price; beyond it the leg is not sent.
    slippage_pct: Decimal = Field(default=Decimal(2), ge=0, le=10)
    on_leg_failure: Literal["unwind", "hold"] = "unwind"
    # Filled legs a stopped node left without a record, at the next start: traded back within
    # max_unwind_loss_pct before the strategy trades (`unwind`), or kept and reported (`hold`).
    on_interrupted: Literal["unwind", "hold"] = "unwind"
    # Unwind prices stay within this % of the stranded asset's cost (fees come on top).
    max_unwind_loss_pct: Decimal = Field(default=Decimal(1), gt=0, le=20)
    leg_timeout_s: float = Field(default=5.0, gt=0, le=120)
    min_profit_pct: Decimal = Field(default=Decimal("0.5"), ge=0, le=100)
    # Assets a cycle may start from; empty allows any.
    start_assets: tuple[str, ...] = ()
    # Cap on one cycle's size, in USD of the start asset; None trades the scanned max size.
    max_size_usd: Decimal | None = Field(default=None, gt=0, le=Decimal(10_000_000))
    # Where the venue charges a buy's fee: in the quote spent (paper venue) or the base received
    # (most exchanges). Buys are sized so the fee never overdraws the quote.
    fees_charged_in: Literal["quote", "received"] = "quote"
    # Most orders an unwind may take to reach the start asset, through any of the venue's markets.
    max_unwind_hops: int = Field(default=3, ge=1, le=4)
