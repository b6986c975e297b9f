"""Turn a swap receipt into a fill: token amounts from Transfer logs, gas as the fee."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.fill import Fill
from tradeguard.venues.uniswap_v2.amm import AmmError, amount_in, amount_out, from_units
from tradeguard.venues.uniswap_v2.settings import Token

_TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# Swap(address indexed sender, uint amount0In, uint amount1In, uint amount0Out, uint amount1Out,
# address indexed to) and Sync(uint112 reserve0, uint112 reserve1) of a Uniswap V2 pair
_SWAP_TOPIC = "d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
_SYNC_TOPIC = "1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"


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


@dataclass(frozen=True, slots=True)
class SwapProof:
    """What a swap receipt's logs prove the wallet moved, in token units."""

    sent: int  # of the token in, out of the wallet (Transfer logs)
    received: int  # of the token out, into the wallet (Transfer logs)
    swap_out: int  # the pair's Swap amountOut: what the router's bounds were held to

    @property
    def transfer_fee(self) -> int:
        """What the token out kept on its way to the wallet (a fee-on-transfer token)."""
        return self.swap_out - self.received


def _words(data: Any, count: int) -> list[int]:
    raw = _hex(data)
    if len(raw) != 64 * count:
        raise ValueError(f"log data of {len(raw) // 2} bytes, {32 * count} expected")
    return [int(raw[i : i + 64], 16) for i in range(0, len(raw), 64)]


def _pair_logs(
    receipt: Any, pair: str, topic: str, words: int
) -> list[tuple[list[str], list[int]]]:
    found = []
    for log in receipt["logs"]:
        topics = [_hex(t) for t in log["topics"]]
        if _hex(log["address"]) == _hex(pair) and topics and topics[0] == topic:
            found.append((topics, _words(log["data"], words)))
    return found


def _pool_problem(
    receipt: Any, pair: str, flow: tuple[bool, bool], amounts: tuple[int, ...], sent: int
) -> str:
    """Why what the wallet sent and the Swap log's amount out are not what the pair's curve
    gives at its reserves before the swap, or ''. Those are the ones its Sync log leaves less
    the Swap log's amounts in plus its amounts out, token by token: the pair counts every unit
    it holds past its reserves as paid in (a transfer nobody synced), while the router priced
    what the wallet sent at the reserves. `flow` is (the token in is the pair's token0, the
    swap is exact-input); `amounts` the Swap log's (amount0In, amount1In, amount0Out,
    amount1Out)."""
    in_first, exact_in = flow
    syncs = _pair_logs(receipt, pair, _SYNC_TOPIC, 2)
    if not syncs:
        return f"no Sync log of the pair {pair}; a swap through it emits one"
    a0_in, a1_in, a0_out, a1_out = amounts
    r0, r1 = syncs[-1][1][0] + a0_out - a0_in, syncs[-1][1][1] + a1_out - a1_in
    pre_in, pre_out = (r0, r1) if in_first else (r1, r0)
    swap_out = a1_out if in_first else a0_out
    try:  # what the router asked the pair for: getAmountOut, or getAmountIn for an exact output
        curve = (
            amount_out(sent, pre_in, pre_out) if exact_in else amount_in(swap_out, pre_in, pre_out)
        )
    except AmmError as exc:
        return f"a Swap log the pair's reserves cannot have made ({exc})"
    if curve != (swap_out if exact_in else sent):
        return (
            f"the wallet sent {sent} units and the pair's Swap log pays {swap_out}; at the "
            f"reserves its Sync and Swap logs leave before the swap the pool "
            f"{'pays' if exact_in else 'takes'} {curve}"
        )
    return ""


def prove_swap(
    receipt: Any, side: Side, tokens: tuple[Token, Token], pair: str, wallet: str,
    detail: dict[str, Any],
) -> SwapProof | str:  # fmt: skip
    """Return what a successful swap receipt proves the wallet moved, or why it proves nothing.

    The wallet's Transfer logs give what it sent and received; the pair's Swap log paying the
    wallet must take at least what was sent (more when the pair held tokens past its reserves)
    and pay at least what was received (a token that keeps a fee on transfer delivers less, the
    difference is its fee); what was sent and the Swap log's amount out must be what the pool's
    curve gives at the reserves before the swap (its Sync log's less the Swap log's); and they
    must fit the signed swap (`detail` as journaled): a sell's exact amountIn and amountOutMin,
    a buy's exact amountOut and amountInMax. `tokens` is (base, quote)."""
    base, quote = tokens
    token_in, token_out = (base, quote) if side is Side.SELL else (quote, base)
    max_in, min_out = _signed_units(detail, "amount_in_max"), _signed_units(detail, "min_out")
    try:
        sent = -net_transfers(receipt, token_in.address, wallet)
        got = net_transfers(receipt, token_out.address, wallet)
        me = _hex(wallet)
        swaps = [w for t, w in _pair_logs(receipt, pair, _SWAP_TOPIC, 4) if t[-1][-40:] == me]
        problem = (
            ""
            if len(swaps) == 1
            else f"{len(swaps)} Swap logs of the pair {pair} pay the wallet; a swap makes one"
        )
        in_first = int(token_in.address, 16) < int(token_out.address, 16)
        amounts = tuple(swaps[0]) if swaps else (0, 0, 0, 0)
        a0_in, a1_in, a0_out, a1_out = amounts
        swap_in, swap_out = (a0_in, a1_out) if in_first else (a1_in, a0_out)
        flow = (in_first, side is Side.SELL)
        curve = _pool_problem(receipt, pair, flow, amounts, sent)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return f"unreadable Transfer or Swap logs ({type(exc).__name__}: {str(exc)[:80]})"
    if sent <= 0 or got <= 0:
        return (
            f"Transfer logs of {sent} {token_in.symbol} units sent and {got} "
            f"{token_out.symbol} units received by the wallet; a mined swap moves both"
        )
    if problem:
        return problem
    if sent > swap_in or got > swap_out:
        return (
            f"Transfer logs of {sent} {token_in.symbol} units sent and {got} "
            f"{token_out.symbol} units received by the wallet; the pair's Swap log takes "
            f"{swap_in} and pays {swap_out}"
        )
    if curve:
        return curve
    if max_in is not None and min_out is not None:
        bound = _bound_problem(side, sent, swap_out, max_in, min_out, token_in, token_out)
        if bound:
            return bound
    return SwapProof(sent, got, swap_out)


def _bound_problem(
    side: Side, sent: int, swap_out: int, max_in: int, min_out: int, t_in: Token, t_out: Token
) -> str:
    """Why what the wallet sent and the Swap log paid are past what the signed swap allows,
    or ''."""
    exact_in = side is Side.SELL
    if (sent != max_in) if exact_in else (sent > max_in):
        bound = "the signed amountIn is" if exact_in else "the signed amountInMax is"
        return f"Transfer logs of {sent} {t_in.symbol} units sent; {bound} {max_in}"
    if (swap_out < min_out) if exact_in else (swap_out != min_out):
        bound = "the signed amountOutMin is" if exact_in else "the signed amountOut is"
        return f"a Swap log paying {swap_out} {t_out.symbol} units; {bound} {min_out}"
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
