"""`POST /admin/merge`: merge an account's YES+NO pairs of one market back into cash.

What the CTF contract's mergePositions (or polymarket.com's "merge") does outside the CLOB:
n YES and n NO tokens of a market become n pUSD. The CLOB sees it only in the balances.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from tradeguard.sandbox.outcome_accounts import FundsError

_UNIT = Decimal("0.000001")  # the CTF's tokens and pUSD count in millionths: no finer merge


def _finer_than_unit(amount: Decimal) -> bool:
    """Tell whether finite `amount` is no whole number of millionths (or too long to tell)."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -6:
        return False
    try:
        return amount % _UNIT != 0
    except InvalidOperation:  # more digits than the context holds: no amount the CTF takes
        return True


def merge_route(ex: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of `POST /admin/merge` on exchange `ex`."""

    async def handler(request: web.Request) -> web.Response:
        return await admin_merge(ex, request)

    return handler


async def admin_merge(ex: Any, request: web.Request) -> web.Response:
    """Merge `amount` pairs of `condition_id` (or slug) held by `address`."""
    from tradeguard.sandbox.polymarket.server import PolyError, _admin_body

    body = await _admin_body(request)
    by_slug = {m.slug: c for c, m in ex.markets.items()}
    cid = body.get("condition_id")
    cid = by_slug.get(cid, cid) if isinstance(cid, str) else ""
    if cid not in ex.markets:
        raise PolyError(f"condition_id {body.get('condition_id')!r} is not a market", 404)
    account = ex.accounts.get(str(body.get("address", "")).lower())
    if account is None:
        raise PolyError(f"address {body.get('address')!r} has no account here", 404)
    try:
        pairs = Decimal(str(body.get("amount", "")))
    except InvalidOperation:
        raise PolyError(f"amount {body.get('amount')!r} is not a number", 400) from None
    if not pairs.is_finite():  # NaN cannot be compared: refused before it reaches the account
        raise PolyError(f"amount {body.get('amount')!r} is not a finite number", 400)
    if _finer_than_unit(pairs):
        raise PolyError(
            f"amount {body.get('amount')!r} is finer than the CTF's unit of 0.000001", 400
        )
    try:
        account.merge(cid, pairs)
    except FundsError as exc:
        raise PolyError(str(exc), 400) from None
    yes, no = account.position(cid)
    return web.json_response({"merged": str(pairs), "cash": str(account.cash),
                              "yes": str(yes), "no": str(no)})  # fmt: skip
