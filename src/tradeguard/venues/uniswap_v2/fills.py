"""Turn a swap receipt into a fill: token amounts from Transfer logs, gas as the fee."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.venues.uniswap_v2.amm import from_units
from tradeguard.venues.uniswap_v2.settings import Token

_TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value).lower().removeprefix("0x")


def net_transfers(receipt: Any, token: str, wallet: str) -> int:
    """Return what `wallet` received of `token` in `receipt` less what it sent."""
    token_hex, me = _hex(token), _hex(wallet)
    net = 0
    for log in receipt["logs"]:
        topics = [_hex(t) for t in log["topics"]]
        if _hex(log["address"]) != token_hex or len(topics) != 3 or topics[0] != _TRANSFER_TOPIC:
            continue
        value = int(_hex(log["data"]) or "0", 16)
        if topics[2][-40:] == me:
            net += value
        if topics[1][-40:] == me:
            net -= value
    return net


def _signed_units(detail: dict[str, Any], key: str) -> int | None:
    value = detail.get(key)
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def transfer_problem(
    receipt: Any, side: Side, base: Token, quote: Token, wallet: str, detail: dict[str, Any]
) -> str:
    """Return why a successful swap receipt's Transfer logs cannot be what the signed swap
    moved, or '' when they fit it. A sell sends exactly the signed amountIn of the base and
    receives at least amountOutMin of the quote; a buy receives exactly the signed amountOut
    of the base and pays at most amountInMax of the quote (`detail` as journaled)."""
    max_in, min_out = _signed_units(detail, "amount_in_max"), _signed_units(detail, "min_out")
    if max_in is None or min_out is None:
        return ""  # journaled without its signed bounds: nothing to hold the logs to
    try:
        base_net = net_transfers(receipt, base.address, wallet)
        quote_net = net_transfers(receipt, quote.address, wallet)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return f"unreadable Transfer logs ({type(exc).__name__}: {str(exc)[:80]})"
    if side is Side.SELL:
        spent, got, token_in, token_out = -base_net, quote_net, base, quote
        exact_in = True
    else:
        spent, got, token_in, token_out = -quote_net, base_net, quote, base
        exact_in = False
    if spent <= 0 or got <= 0:
        return (
            f"Transfer logs of {spent} {token_in.symbol} units sent and {got} "
            f"{token_out.symbol} units received by the wallet; a mined swap moves both"
        )
    if (spent != max_in) if exact_in else (spent > max_in):
        bound = "the signed amountIn is" if exact_in else "the signed amountInMax is"
        return f"Transfer logs of {spent} {token_in.symbol} units sent; {bound} {max_in}"
    if (got < min_out) if exact_in else (got != min_out):
        bound = "the signed amountOutMin is" if exact_in else "the signed amountOut is"
        return f"Transfer logs of {got} {token_out.symbol} units received; {bound} {min_out}"
    return ""


def gas_fee_wei(receipt: Any) -> int:
    return int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice") or 0)


def swap_fill(
    venue: str,
    symbol: str,
    cid: str,
    side: Side,
    receipt: Any,
    base: Token,
    quote: Token,
    wallet: str,
    ts: int,
) -> Fill:
    """Return the fill a mined swap made (trade id = transaction hash, fee = gas in ETH)."""
    base_units = abs(net_transfers(receipt, base.address, wallet))
    quote_units = abs(net_transfers(receipt, quote.address, wallet))
    amount = from_units(base_units, base.decimals)
    quote_amount = from_units(quote_units, quote.decimals)
    tx_hash = "0x" + _hex(receipt["transactionHash"])
    return Fill(
        venue=venue,
        symbol=symbol,
        client_order_id=cid,
        venue_order_id=tx_hash,
        trade_id=tx_hash,
        side=side,
        price=quote_amount / amount if amount else Decimal(0),
        amount=amount,
        fee=from_units(gas_fee_wei(receipt), 18),
        fee_asset="ETH",
        liquidity=LiquiditySide.TAKER,
        ts=ts,
    )


def gas_fill(venue: str, symbol: str, cid: str, side: Side, receipt: Any, ts: int) -> Fill:
    """Return a fee-only fill (amount 0) for the gas a transaction spent without swapping:
    a reverted swap, an approval, a cancel."""
    tx_hash = "0x" + _hex(receipt["transactionHash"])
    return Fill(
        venue=venue, symbol=symbol, client_order_id=cid, venue_order_id=tx_hash,
        trade_id=tx_hash, side=side, price=Decimal(0), amount=Decimal(0),
        fee=from_units(gas_fee_wei(receipt), 18), fee_asset="ETH",
        liquidity=LiquiditySide.TAKER, ts=ts,
    )  # fmt: skip
