"""API tokens (stored hashed), roles, the TOTP second factor and the auth-failure rate limit.

```python
store = TokenStore(db)
info, token = store.create("phone", Role.TRADER)   # `token` is shown once, only its hash is kept
store.verify(token)                                  # -> TokenInfo, or None
uri = store.setup_totp("phone", passphrase)          # for an authenticator app
store.verify_totp(info.id, "123456", passphrase)
```

TOTP secrets are sealed with AES-256-GCM under a scrypt key derived from the master passphrase
(`TG_MASTER_PASSPHRASE`, the one that opens the credential vault) and kept in the database's
key/value table under `api.totp.<token id>`; the database never holds one in plain text.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tradeguard.model.errors import TradeguardError
from tradeguard.secrets.vault import PASSPHRASE_ENV, ScryptParams
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.storage.tokens import TokenRow, TokenRows

TOKEN_PREFIX = "tg_"
TOTP_KEY_PREFIX = "api.totp."
TOTP_ISSUER = "tradeguard"
_AAD = b"tradeguard api totp v1\x00"
# last_used_ts is written at most this often per token, so reads stay off the write path
_TOUCH_EVERY_MS = 60_000
# A verified token is read from the database again at least this often, so a revocation made by
# another process (`tradeguard token revoke` next to a running node) takes effect within it.
RECHECK_S = 1.0


class Role(IntEnum):
    """What a token may do: viewer reads, trader acts, admin also resets the paper account."""

    VIEWER = 1
    TRADER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        """Return the role named `name` (viewer, trader, admin)."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise AuthError(f"unknown role {name!r}; choose one of viewer, trader, admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class AuthError(TradeguardError):
    """A token or TOTP operation cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never the token itself, nor its hash."""

    id: str
    name: str
    role: Role
    created_ts: int
    last_used_ts: int | None
    revoked: bool
    totp: bool = False
    bot: str | None = None  # a bot token trades only as this bot

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "bot": self.bot,
            "id": self.id,
            "name": self.name,
            "role": self.role.label,
            "created_ts": self.created_ts,
            "last_used_ts": self.last_used_ts,
            "revoked": self.revoked,
            "totp": self.totp,
        }


def hash_token(token: str) -> str:
    """Return the stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


class TokenStore:
    """API tokens in the `api_tokens` table, and their sealed TOTP secrets in the kv table."""

    def __init__(
        self, db: Database, storage: Storage | None = None, recheck_s: float = RECHECK_S
    ) -> None:
        self.db = db
        self.rows = TokenRows(db)
        self.storage = storage or Storage(db)
        self.recheck_s = recheck_s
        # token hash -> (info, monotonic time it was read from the database)
        self._by_hash: dict[str, tuple[TokenInfo, float]] = {}
        self._touched: dict[str, int] = {}
        self._keys: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    # tokens -------------------------------------------------------------------------------------
    def create(self, name: str, role: Role, bot: str | None = None) -> tuple[TokenInfo, str]:
        """Create a token; return its info and the token, which is never retrievable again.

        With `bot`, the token may trade only as that bot (whatever its role).
        """
        name = name.strip()
        if not name or len(name) > 64 or not name.isprintable():
            raise AuthError(
                f"token name {name[:80]!r} must be 1 to 64 printable characters (no control "
                "characters or line breaks)"
            )
        if any(t.name == name and not t.revoked for t in self.list()):
            raise AuthError(
                f"an active token named {name!r} exists; revoke it first "
                f"(tradeguard token revoke --name {name}) or pick another name"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(
            id="tok_" + secrets.token_hex(6),
            name=name,
            role=role,
            created_ts=_now_ms(),
            last_used_ts=None,
            revoked=False,
            bot=bot,
        )
        self.rows.insert(
            TokenRow(info.id, info.name, role.label, hash_token(token), info.created_ts, bot_id=bot)
        )
        return info, token

    def list(self) -> list[TokenInfo]:
        """Return every token, oldest first."""
        return [self._info(r) for r in self.rows.all()]

    def get(self, name_or_id: str) -> TokenInfo:
        """Return the active token with this name or id, or raise AuthError."""
        for t in self.list():
            if name_or_id in (t.id, t.name) and not t.revoked:
                return t
        raise AuthError(f"no active token named {name_or_id!r}; `tradeguard token list` shows them")

    def revoke(self, name_or_id: str) -> TokenInfo:
        """Revoke the active token with this name or id; it stops working at once."""
        info = self.get(name_or_id)
        self.rows.revoke(info.id)
        self._forget(info.id)
        self.storage.kv_delete(TOTP_KEY_PREFIX + info.id)
        return info

    def verify(self, token: str) -> TokenInfo | None:
        """Return the token's info if it is a live token, else None.

        Served from memory between database reads at most `recheck_s` apart; a revocation
        through this store counts at once.
        """
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        now = time.monotonic()
        with self._lock:
            entry = self._by_hash.get(digest)
        if entry is not None and now - entry[1] < self.recheck_s:
            info = entry[0]
        else:
            row = self.rows.by_hash(digest)
            found = self._info(row) if row is not None else None
            with self._lock:
                if found is None or found.revoked:
                    self._by_hash.pop(digest, None)
                    return None
                self._by_hash[digest] = (found, now)
            info = found
        self._touch(info.id)
        return info

    def _forget(self, token_id: str) -> None:
        with self._lock:
            self._by_hash = {h: e for h, e in self._by_hash.items() if e[0].id != token_id}

    def _touch(self, token_id: str) -> None:
        now = _now_ms()
        if now - self._touched.get(token_id, 0) < _TOUCH_EVERY_MS:
            return
        self._touched[token_id] = now
        self.rows.touch(token_id, now)

    def _info(self, row: TokenRow) -> TokenInfo:
        return TokenInfo(
            id=row.id,
            name=row.name,
            role=Role.parse(row.role),
            created_ts=row.created_ts,
            last_used_ts=row.last_used_ts,
            revoked=row.revoked,
            totp=self.storage.kv_get(TOTP_KEY_PREFIX + row.id) is not None,
            bot=row.bot_id,
        )

    # TOTP ---------------------------------------------------------------------------------------
    def setup_totp(self, name_or_id: str, passphrase: str, kdf: ScryptParams | None = None) -> str:
        """Give the token a new TOTP secret; return its provisioning URI (shown once)."""
        info = self.get(name_or_id)
        secret = pyotp.random_base32()
        params = kdf or ScryptParams()
        salt = os.urandom(16)
        nonce = os.urandom(12)
        key = self._key(passphrase, salt, params)
        sealed = AESGCM(key).encrypt(nonce, secret.encode(), _AAD + info.id.encode())
        self.storage.kv_set(
            TOTP_KEY_PREFIX + info.id,
            {
                "kdf": {"n": params.n, "r": params.r, "p": params.p},
                "salt": base64.b64encode(salt).decode(),
                "nonce": base64.b64encode(nonce).decode(),
                "sealed": base64.b64encode(sealed).decode(),
            },
        )
        self._forget(info.id)
        return pyotp.TOTP(secret).provisioning_uri(name=info.name, issuer_name=TOTP_ISSUER)

    def has_totp(self, token_id: str) -> bool:
        """Whether the token has a TOTP second factor set up."""
        return isinstance(self.storage.kv_get(TOTP_KEY_PREFIX + token_id), dict)

    def verify_totp(self, token_id: str, code: str, passphrase: str | None) -> None:
        """Check a TOTP code for the token; raise AuthError saying what is wrong."""
        doc = self.storage.kv_get(TOTP_KEY_PREFIX + token_id)
        if not isinstance(doc, dict):
            raise AuthError(
                f"token {token_id} has no TOTP second factor; an admin runs "
                "`tradeguard token totp-setup --name NAME` for it"
            )
        if not passphrase:
            raise AuthError(
                f"the server cannot check TOTP codes: {PASSPHRASE_ENV} is not set where "
                "the API runs; set it and restart"
            )
        code = code.strip()
        # isascii: str.isdigit takes ¹²³ (a header is read as Latin-1), which compare_digest
        # refuses with a TypeError
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise AuthError("X-TOTP must be the 6-digit code from your authenticator app")
        secret = self._open(token_id, doc, passphrase)
        totp = pyotp.TOTP(secret)
        current = int(time.time()) // totp.interval
        for drift in (0, -1, 1):  # one 30 s step either side for clock skew
            step = current + drift
            candidate = totp.generate_otp(step)
            if hmac.compare_digest(candidate, code):
                self._use_step(token_id, doc, step)
                return
        raise AuthError("the TOTP code is wrong or expired; use the current code")

    def _use_step(self, token_id: str, doc: dict[str, Any], step: int) -> None:
        # Kept beside the sealed secret, not only in this process: a code seen as it was typed
        # was good again right after a restart. A new secret (a new doc) starts afresh.
        with self._lock:
            stored = self.storage.kv_get(TOTP_KEY_PREFIX + token_id)
            if not isinstance(stored, dict) or stored.get("sealed") != doc.get("sealed"):
                raise AuthError("the TOTP secret changed while checking; use the current code")
            last = stored.get("last_step")
            if isinstance(last, int) and step <= last:
                raise AuthError("this TOTP code was already used; wait for the next one")
            self.storage.kv_set(TOTP_KEY_PREFIX + token_id, {**stored, "last_step": step})

    def _open(self, token_id: str, doc: dict[str, Any], passphrase: str) -> str:
        kdf = doc.get("kdf") or {}
        params = ScryptParams(int(kdf.get("n", 2**15)), int(kdf.get("r", 8)), int(kdf.get("p", 1)))
        salt = base64.b64decode(doc["salt"])
        key = self._key(passphrase, salt, params)
        try:
            plain = AESGCM(key).decrypt(
                base64.b64decode(doc["nonce"]),
                base64.b64decode(doc["sealed"]),
                _AAD + token_id.encode(),
            )
        except InvalidTag:
            raise AuthError(
                f"the TOTP secret of {token_id} does not open with {PASSPHRASE_ENV}; it was set "
                "up under another passphrase: run totp-setup again"
            ) from None
        return plain.decode()

    def _key(self, passphrase: str, salt: bytes, params: ScryptParams) -> bytes:
        # scrypt is slow on purpose; derive once per salt and passphrase, not per request
        cache_key = hashlib.sha256(salt + b"\x00" + passphrase.encode()).digest()
        key = self._keys.get(cache_key)
        if key is None:
            key = params.derive(passphrase, salt)[0]
            self._keys[cache_key] = key
        return key


class _Buckets:
    """Failure times per key, at most `cap` keys, least recently failed first; a key that is
    locked out (`limit` failures within `window_s`) is never evicted."""

    def __init__(self, limit: int, window_s: float, cap: int) -> None:
        self.limit, self.window_s, self.cap = limit, window_s, cap
        # the latest `limit` failures of each key: whether it is locked out depends on no more
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        # keys an eviction found locked out, set aside until their lockout ends (by when, in
        # `_ends`) so that the next eviction does not look at them again
        self._held: dict[str, deque[float]] = {}
        self._ends: list[tuple[float, str]] = []
        self._full_until = 0.0  # every key locked out: a new key is held off until then

    def __len__(self) -> int:
        return len(self._fails) + len(self._held)

    def wait(self, key: str, now: float) -> float:
        """Seconds `key` must wait (0 when it may try)."""
        q = self._fails.get(key)
        if q is None:
            q = self._held.get(key)
        if q is None:
            return max(0.0, self._full_until - now)
        while q and now - q[0] > self.window_s:
            q.popleft()
        if not q:
            self._fails.pop(key, None)
            self._held.pop(key, None)  # its entry in `_ends` is skipped when reached
            return 0.0
        if len(q) < self.limit:
            return 0.0
        return max(0.0, self.window_s - (now - q[0]))

    def fail(self, key: str, now: float) -> None:
        q = self._fails.get(key)
        if q is None:
            q = self._held.get(key)
        if q is None:
            if len(self) >= self.cap and not self._evict(now):
                return  # not counted: `wait` holds it off while the table is full
            q = self._fails[key] = deque(maxlen=self.limit)
        elif key in self._fails:
            self._fails.move_to_end(key)
        q.append(now)

    def _locked(self, q: deque[float], now: float) -> bool:
        return len(q) >= self.limit and now - q[0] <= self.window_s

    def _evict(self, now: float) -> bool:
        """Drop the least recently failed key that is not locked out; False if all are."""
        if now < self._full_until:
            return False
        self._release(now)
        while self._fails:
            key, q = next(iter(self._fails.items()))
            del self._fails[key]
            if not self._locked(q, now):
                return True
            self._held[key] = q  # looked at once, not again until its lockout ends
            heapq.heappush(self._ends, (q[0] + self.window_s, key))
        self._full_until = self._ends[0][0] if self._ends else now
        return False

    def _release(self, now: float) -> None:
        """Put back, as the least recently failed, the set-aside keys whose lockout ended."""
        while self._ends and self._ends[0][0] < now:
            _, key = heapq.heappop(self._ends)
            q = self._held.get(key)
            if q is None:
                continue  # dropped meanwhile
            if self._locked(q, now):  # failed again meanwhile: locked out for longer
                heapq.heappush(self._ends, (q[0] + self.window_s, key))
                continue
            del self._held[key]
            self._fails[key] = q
            self._fails.move_to_end(key, last=False)


WIDE_FACTOR = 5  # the wider network's threshold, in multiples of one client's, by default
MAX_TRACKED = 10_000  # clients (and networks) counted at once
GLOBAL_LIMIT = 200  # failures of all clients together per window, by default


class FailureLimiter:
    """Count failed authentications per client and per its network; refuse either over its
    threshold within `window_s`.

    An IPv6 client counts by its /64 (what one host or line is given: one guesser could name
    itself anew for every guess), an IPv4-mapped address as the IPv4 one; `limit` failures
    lock it out. Its network, the /48 of an IPv6 client (what one site is given: 65,536 /64s)
    or the /24 of an IPv4 one, is counted too, and `wide_limit` failures (default 5 x `limit`)
    lock out the whole network. At most `max_tracked` clients and as many networks are counted;
    a full table drops the least recently failed entry that is not locked out, never one that
    is, and when every entry is locked out a client not yet counted is held off until the first
    of them expires. Every client's failures are also counted together: past `global_limit`
    within `window_s` (one guesser holding many networks), every client is held off until the
    oldest of them ages out (`everyone_blocked_for`). A valid token is checked before any of this
    and always passes.
    """

    def __init__(
        self,
        limit: int = 10,
        window_s: float = 60.0,
        wide_limit: int | None = None,
        max_tracked: int = MAX_TRACKED,
        global_limit: int = GLOBAL_LIMIT,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.wide_limit = wide_limit if wide_limit is not None else WIDE_FACTOR * limit
        self.global_limit = global_limit
        self._clients = _Buckets(limit, window_s, max_tracked)
        self._networks = _Buckets(self.wide_limit, window_s, max_tracked)
        self._everyone: deque[float] = deque(maxlen=global_limit)  # the latest failures of all
        # wrong TOTP codes per valid token: a table of their own, which no address can fill
        self._codes = _Buckets(limit, window_s, max_tracked)

    def blocked_for(self, client: str, now: float | None = None, everyone: bool = True) -> float:
        """Return how many seconds `client` must wait (0 when it may try); `everyone=False`
        leaves out the global budget (a key that is no client, such as a token's TOTP)."""
        now = time.monotonic() if now is None else now
        wait = self._clients.wait(counted_as(client), now)
        network = network_of(client)
        if network is not None:
            wait = max(wait, self._networks.wait(network, now))
        if everyone:
            wait = max(wait, self.everyone_blocked_for(now))
        return wait

    def everyone_blocked_for(self, now: float | None = None) -> float:
        """Seconds every client must wait because all of them together failed `global_limit`
        times within `window_s` (0 when they may try)."""
        now = time.monotonic() if now is None else now
        q = self._everyone
        while q and now - q[0] > self.window_s:
            q.popleft()
        if len(q) < self.global_limit:
            return 0.0
        return max(0.0, self.window_s - (now - q[0]))

    def fail(self, client: str, now: float | None = None, everyone: bool = True) -> None:
        """Record one failed attempt by `client` (and in the global count unless `everyone` is
        False)."""
        now = time.monotonic() if now is None else now
        self._clients.fail(counted_as(client), now)
        network = network_of(client)
        if network is not None:
            self._networks.fail(network, now)
        if everyone:
            self._everyone.append(now)

    def code_blocked_for(self, token_id: str, now: float | None = None) -> float:
        """Seconds the TOTP codes of token `token_id` are not checked (0: they are)."""
        return self._codes.wait(token_id, time.monotonic() if now is None else now)

    def code_fail(self, token_id: str, now: float | None = None) -> None:
        """Record one wrong TOTP code of token `token_id`. Counted apart from the clients: a
        holder of the token sending requests from many addresses pushes no count out."""
        self._codes.fail(token_id, time.monotonic() if now is None else now)

    def tracked(self) -> tuple[int, int]:
        """How many clients and networks are counted now."""
        return len(self._clients), len(self._networks)


def _address(client: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def counted_as(client: str) -> str:
    """The key `client` (an address) is counted under by the failure limit."""
    address = _address(client)
    if address is None:
        return client  # no address ("unknown"): as given
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def network_of(client: str) -> str | None:
    """The wider network `client` is also counted under: its /48 (IPv6) or /24 (IPv4)."""
    address = _address(client)
    if address is None:
        return None
    prefix = 48 if isinstance(address, ipaddress.IPv6Address) else 24
    return str(ipaddress.ip_network((address, prefix), strict=False))
