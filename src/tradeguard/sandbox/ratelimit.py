"""Binance request weights: a per-IP weight budget per minute, 429 then 418 for offenders."""

from __future__ import annotations

from dataclasses import dataclass

# Weights of the spot endpoints served, as Binance documents them.
_WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/test"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/allOrders"): 20,
    ("POST", "/api/v3/userDataStream"): 2,
    ("PUT", "/api/v3/userDataStream"): 2,
    ("DELETE", "/api/v3/userDataStream"): 2,
    ("GET", "/sapi/v1/account/apiRestrictions"): 1,
}


def request_weight(method: str, path: str, query: dict[str, str]) -> int:
    """Return the weight Binance charges for one request."""
    has_symbol = "symbol" in query or "symbols" in query
    if path == "/api/v3/depth":
        raw = query.get("limit") or "100"
        # A malformed limit is weighed as the default; the handler then refuses it (-1100).
        limit = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 100
        if limit <= 100:
            return 5
        if limit <= 500:
            return 25
        if limit <= 1000:
            return 50
        return 250
    if path == "/api/v3/ticker/24hr":
        return 2 if has_symbol else 80
    if path == "/api/v3/ticker/bookTicker":
        return 2 if has_symbol else 4
    if path == "/api/v3/openOrders":
        return 6 if has_symbol else 80
    if path == "/api/v3/myTrades" and "orderId" in query:
        return 5  # one order's trades
    return _WEIGHTS.get((method, path), 1)


@dataclass(slots=True)
class Verdict:
    """Whether a request may pass; if not, the status (429 or 418) and seconds to wait."""

    allowed: bool
    used_weight: int
    status: int = 200
    retry_after_s: int = 0
    banned_until_ms: int = 0


@dataclass(slots=True)
class _IpState:
    minute: int = -1
    used: int = 0
    backoff_until_ms: int = 0
    strikes: int = 0
    banned_until_ms: int = 0


class WeightLimiter:
    """Count weight per IP per clock minute; refuse over the limit like Binance does.

    Over the limit: 429 with Retry-After until the minute rolls over. A client that keeps
    calling while told to back off collects strikes; at `ban_after_strikes` it gets 418 and a
    ban of `ban_s` seconds.
    """

    def __init__(self, limit_per_minute: int = 6000, ban_after_strikes: int = 3, ban_s: int = 120):
        self.limit_per_minute = limit_per_minute
        self.ban_after_strikes = ban_after_strikes
        self.ban_s = ban_s
        self._ips: dict[str, _IpState] = {}

    def used(self, ip: str, now_ms: int) -> int:
        """Weight used by `ip` in the current minute."""
        st = self._ips.get(ip)
        if st is None or st.minute != now_ms // 60_000:
            return 0
        return st.used

    def check(self, ip: str, weight: int, now_ms: int) -> Verdict:
        """Charge `weight` to `ip` and say whether the request may pass."""
        st = self._ips.setdefault(ip, _IpState())
        minute = now_ms // 60_000
        if st.minute != minute:
            st.minute = minute
            st.used = 0
        if st.banned_until_ms > now_ms:
            return Verdict(
                False,
                st.used,
                418,
                _ceil_s(st.banned_until_ms - now_ms),
                st.banned_until_ms,
            )
        if st.backoff_until_ms > now_ms:
            st.strikes += 1
            if st.strikes >= self.ban_after_strikes:
                st.banned_until_ms = now_ms + self.ban_s * 1000
                return Verdict(False, st.used, 418, self.ban_s, st.banned_until_ms)
            return Verdict(False, st.used, 429, _ceil_s(st.backoff_until_ms - now_ms))
        if st.used + weight > self.limit_per_minute:
            st.backoff_until_ms = (minute + 1) * 60_000
            return Verdict(False, st.used, 429, _ceil_s(st.backoff_until_ms - now_ms))
        st.used += weight
        st.strikes = 0
        return Verdict(True, st.used)


def _ceil_s(ms: int) -> int:
    return max(1, -(-ms // 1000))
