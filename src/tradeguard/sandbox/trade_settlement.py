"""One trade's balances and fees: what the matching engine moves between accounts when it fills.

Fees follow Binance spot (or Kraken's, both sides in the quote asset, where the market says
`fee_in_quote`): the buyer pays the fee in the base asset it receives, the seller in the
quote asset it receives, at the maker rate when its order was resting and the taker rate when it
crossed, unless its account pays fees in BNB (`sandbox/fees.py`). Fees are rounded half-up to 8
decimals (a quote-fee buy's per order and rate, so its fees stay within what it locked) and
credited to the fee account, so the total of every asset across all accounts (fee
account included) never changes by trading.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from tradeguard.model.money import ZERO
from tradeguard.sandbox.fees import BNB, bnb_fee
from tradeguard.sandbox.orders import MARKET, Account, EngineOrder, MarketSpec

FEE_QUANTUM = Decimal("0.00000001")

Paid = tuple[Decimal, str]  # a fee and its asset


def trade_fee(amount: Decimal, rate: Decimal) -> Decimal:
    """The fee at `rate` on `amount`, rounded half-up to 8 decimals."""
    return (amount * rate).quantize(FEE_QUANTUM, rounding=ROUND_HALF_UP)


def settle_trade(
    accounts: dict[str, Account],
    fee_account: str,
    spec: MarketSpec,
    buy: EngineOrder,
    sell: EngineOrder,
    buyer_is_maker: bool,
    qty: Decimal,
    quote_amt: Decimal,
    bnb_price: Callable[[str], Decimal | None],
) -> tuple[Paid, Paid]:
    """Move both sides' balances and fees for one trade; return each side's (fee, asset)."""
    buyer_rate = spec.maker_fee if buyer_is_maker else spec.taker_fee
    seller_rate = spec.taker_fee if buyer_is_maker else spec.maker_fee
    buyer = accounts[buy.account_id]
    seller = accounts[sell.account_id]
    fees = accounts[fee_account]
    # Each side pays in what it receives, or in BNB where its account asks for that. A
    # BNB fee is taken at once: one account on both sides pays the second from what is left.
    buyer_fee = bnb_fee(buyer, spec.quote, quote_amt, buyer_rate, bnb_price)
    if buyer_fee is not None:
        _move(buyer, fees, BNB, buyer_fee)
    seller_fee = bnb_fee(seller, spec.quote, quote_amt, seller_rate, bnb_price)
    if seller_fee is not None:
        _move(seller, fees, BNB, seller_fee)
    buyer_asset = (spec.quote if spec.fee_in_quote else spec.base) if buyer_fee is None else BNB
    seller_asset = spec.quote if seller_fee is None else BNB

    qb = buyer.bal(spec.quote)
    # A limit buy locked qty * its limit; release the price improvement with the spend.
    release = qty * buy.price if buy.kind != MARKET else quote_amt
    release = min(release, buy.locked)
    qb.locked -= release
    buy.locked -= release
    qb.free += release - quote_amt
    buyer.bal(spec.base).free += qty
    if buyer_fee is None and spec.fee_in_quote:
        # the fee was locked with the order (matching.place): release it with the spend. The
        # order's fees at one rate add up to the fee of its cost at that rate, never beyond
        # the lock: each trade's rounded alone could take 0.00000001 a trade more.
        basis = buy.quote_fee_basis.get(buyer_rate, ZERO)
        buy.quote_fee_basis[buyer_rate] = basis + quote_amt
        buyer_fee = trade_fee(basis + quote_amt, buyer_rate) - trade_fee(basis, buyer_rate)
        fee_release = min(buyer_fee, buy.locked)
        qb.locked -= fee_release
        buy.locked -= fee_release
        qb.free += fee_release
        _move(buyer, fees, spec.quote, buyer_fee)
    elif buyer_fee is None:
        buyer_fee = trade_fee(qty, buyer_rate)
        _move(buyer, fees, spec.base, buyer_fee)

    sb = seller.bal(spec.base)
    sb.locked -= qty
    sell.locked -= qty
    seller.bal(spec.quote).free += quote_amt
    if seller_fee is None:
        seller_fee = trade_fee(quote_amt, seller_rate)
        _move(seller, fees, spec.quote, seller_fee)
    return (buyer_fee, buyer_asset), (seller_fee, seller_asset)


def _move(payer: Account, fees: Account, asset: str, amount: Decimal) -> None:
    """Take a fee of `amount` in `asset` from the payer's free balance to the fee account."""
    payer.bal(asset).free -= amount
    fees.bal(asset).free += amount
