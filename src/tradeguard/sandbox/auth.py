"""API keys, listen keys and Binance's HMAC-SHA256 request signatures."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus

from aiohttp import web

from tradeguard.sandbox.params import ApiError, int_param, strip_signature

_DEFAULT_RECV_WINDOW = 5000
_MAX_RECV_WINDOW = 60_000


def same_secret(given: object, expected: str) -> bool:
    """Compare a signature or credential in constant time, as bytes: compare_digest raises on
    non-ASCII text (a 500 for a junk signature)."""
    raw = str(given if given is not None else "").encode("utf-8", "surrogatepass")
    return hmac.compare_digest(raw, expected.encode("utf-8", "surrogatepass"))


@dataclass(slots=True)
class ApiKey:
    """One API key: its secret, its account and its permissions."""

    api_key: str
    secret: str
    account_id: str
    can_withdraw: bool = False
    created_ms: int = 0


class Auth:
    """Who is calling: API keys from headers, signed parameters, listen keys."""

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.listen_keys: dict[str, str] = {}  # listen key -> account
        self._now_ms = now_ms

    def key_from_header(self, request: web.Request) -> ApiKey:
        """The key named by `X-MBX-APIKEY`, else -2014 / -2015."""
        raw = request.headers.get("X-MBX-APIKEY")
        if not raw:
            raise ApiError(-2014, "API-key format invalid.", 401)
        key = self.keys.get(raw)
        if key is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return key

    async def signed(self, request: web.Request) -> tuple[ApiKey, dict[str, str]]:
        """Check a SIGNED request's key, signature and timestamp; return the key and params."""
        key = self.key_from_header(request)
        # as sent: ccxt signs the percent-encoded query (a ':' in a client id is %3A)
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.text()) if request.can_read_body else ""
        query_wo, sig_q = strip_signature(raw_query)
        body_wo, sig_b = strip_signature(raw_body)
        signature = sig_q or sig_b
        params = _params(raw_body)
        params.update(_params(raw_query))  # the query's value wins over the body's, as on Binance
        params.pop("signature", None)
        if "timestamp" not in params:
            raise ApiError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        if not signature:
            raise ApiError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        try:
            self.check_signature(key, query_wo + body_wo, signature)
        except ApiError:  # a client that signed the decoded text and sent it encoded
            self.check_signature(key, unquote_plus(query_wo) + body_wo, signature)
        self.check_timestamp(params)
        return key, params

    def check_signature(self, key: ApiKey, payload: str, signature: str) -> None:
        """Raise -1022 unless `signature` is the HMAC-SHA256 of `payload` under the key."""
        expected = hmac.new(key.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not same_secret(signature.lower(), expected):
            raise ApiError(-1022, "Signature for this request is not valid.", 400)

    def check_timestamp(self, params: dict[str, str]) -> None:
        """Raise -1021 when `timestamp` falls outside `recvWindow`."""
        # ASCII digits, each malformed one named (int() also read Arabic-Indic digits)
        ts = int_param(params, "timestamp")
        recv = int_param(params, "recvWindow", _DEFAULT_RECV_WINDOW)
        if ts is None or recv is None:
            raise ApiError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        if recv > _MAX_RECV_WINDOW or recv <= 0:
            raise ApiError(-1131, "recvWindow must be less than 60000")
        now = self._now_ms()
        if ts < now - recv or ts > now + 1000:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def new_listen_key(self, account_id: str) -> str:
        """Open a user data stream key for an account."""
        lk = secrets.token_hex(30)
        self.listen_keys[lk] = account_id
        return lk


def _params(raw: str) -> dict[str, str]:
    """The parameters of a query string or form body; one named twice is Binance's -1101 (the
    last value was taken: `quantity=0.01&quantity=1` placed the larger order)."""
    pairs = parse_qsl(raw, keep_blank_values=True)
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ApiError(-1101, "Duplicate values for a parameter detected.")
    return out
